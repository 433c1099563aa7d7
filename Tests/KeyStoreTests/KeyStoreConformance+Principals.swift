import Foundation
import KeyService
import Testing

extension KeyStoreConformance {
    /// Principals: unique access keys, names and ids, and their identity policies.
    @Suite("Principals")
    struct Principals {
        @Test(arguments: StoreKind.allCases)
        func principalsAreUniqueByAccessKeyAndName(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                let zeta = Fixtures.principal(accessKeyID: "AKIAZETA0000000000001", name: "zeta")
                let alpha = Fixtures.principal(accessKeyID: "AKIAALPHA000000000002", name: "alpha")
                try await store.insertPrincipal(zeta)
                try await store.insertPrincipal(alpha)

                let sameKey = await #expect(throws: KeyStoreError.self) {
                    try await store.insertPrincipal(Fixtures.principal(accessKeyID: zeta.accessKeyID, name: "other"))
                }
                #expect(sameKey?.kind == .alreadyExists)
                let sameName = await #expect(throws: KeyStoreError.self) {
                    try await store.insertPrincipal(Fixtures.principal(accessKeyID: "AKIAOTHER000000000003", name: "alpha"))
                }
                #expect(sameName?.kind == .alreadyExists)

                #expect(try await store.principal(accessKeyID: zeta.accessKeyID) == zeta)
                #expect(try await store.principal(accessKeyID: "AKIAOTHER000000000003") == nil)
                #expect(try await store.principals() == [alpha, zeta])

                // Admins and disabled principals round-trip; disable, enable, delete.
                var admin = Fixtures.principal(accessKeyID: "AKIAADMIN000000000004", name: "admin")
                admin.isAdmin = true
                try await store.insertPrincipal(admin)
                #expect(try await store.principal(accessKeyID: admin.accessKeyID)?.isAdmin == true)
                try await store.setPrincipalEnabled(accessKeyID: zeta.accessKeyID, false)
                #expect(try await store.principal(accessKeyID: zeta.accessKeyID)?.isEnabled == false)
                try await store.setPrincipalEnabled(accessKeyID: zeta.accessKeyID, true)
                #expect(try await store.principal(accessKeyID: zeta.accessKeyID)?.isEnabled == true)
                let unknown = await #expect(throws: KeyStoreError.self) {
                    try await store.setPrincipalEnabled(accessKeyID: "AKIANONE000000000000", false)
                }
                #expect(unknown?.kind == .notFound)
                #expect(try await store.deletePrincipal(accessKeyID: alpha.accessKeyID))
                #expect(try await store.deletePrincipal(accessKeyID: alpha.accessKeyID) == false)
                #expect(try await store.principals().map(\.name) == ["admin", "zeta"])
            }
        }

        @Test(arguments: StoreKind.allCases)
        func principalsHaveUniqueIDsAndIdentityPolicies(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                var fn = Fixtures.principal(accessKeyID: "AKIAFN00000000000001", name: "fn")
                fn.identityPolicy = #"{"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}"#
                try await store.insertPrincipal(fn)
                #expect(try await store.principal(accessKeyID: fn.accessKeyID) == fn)
                #expect(fn.uniqueID.hasPrefix("AIDA") && fn.uniqueID.count == 20)
                let sameID = await #expect(throws: KeyStoreError.self) {
                    var other = Fixtures.principal(accessKeyID: "AKIAOTHER00000000002", name: "other")
                    other.uniqueID = fn.uniqueID
                    try await store.insertPrincipal(other)
                }
                #expect(sameID?.kind == .alreadyExists)

                try await store.setPrincipalPolicy(accessKeyID: fn.accessKeyID, nil)
                #expect(try await store.principal(accessKeyID: fn.accessKeyID)?.identityPolicy == nil)
                try await store.setPrincipalPolicy(accessKeyID: fn.accessKeyID, "{}")
                #expect(try await store.principal(accessKeyID: fn.accessKeyID)?.identityPolicy == "{}")
                let unknown = await #expect(throws: KeyStoreError.self) {
                    try await store.setPrincipalPolicy(accessKeyID: "AKIANONE000000000000", "{}")
                }
                #expect(unknown?.kind == .notFound)

                // Deleting fn deletes the grants made to it (by id), and only those.
                let key = UUID()
                var toFn = Fixtures.grant(id: "to-fn", keyID: key)
                toFn.granteePrincipalID = fn.uniqueID
                var toNamesake = Fixtures.grant(id: "to-namesake", keyID: key)
                toNamesake.granteePrincipalID = PrincipalDirectory.newUniqueID()
                var unbound = Fixtures.grant(id: "unbound", keyID: key)
                unbound.granteePrincipalID = nil
                var retiredByFn = Fixtures.grant(id: "retired-by-fn", keyID: key, retiringPrincipal: fn.arn)
                retiredByFn.granteePrincipalID = PrincipalDirectory.newUniqueID()
                retiredByFn.retiringPrincipalID = fn.uniqueID
                for grant in [toFn, toNamesake, unbound, retiredByFn] { try await store.insertGrant(grant) }
                #expect(try await store.grants(keyID: key) == [toFn, toNamesake, unbound, retiredByFn])
                #expect(try await store.deletePrincipal(accessKeyID: fn.accessKeyID))
                // A grant it could only retire stays, naming it by its unique id.
                retiredByFn.retiringPrincipal = fn.uniqueID
                #expect(try await store.grants(keyID: key) == [toNamesake, unbound, retiredByFn])
                #expect(try await store.grants(retiringPrincipal: fn.arn) == [])
                #expect(try await store.grants(retiringPrincipal: fn.uniqueID) == [retiredByFn])
                #expect(try await store.principal(accessKeyID: fn.accessKeyID) == nil)
            }
        }
    }
}
