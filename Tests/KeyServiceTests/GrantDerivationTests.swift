import Foundation
import KMSWire
import Testing
@testable import KeyService

/// A grant made on the authority of another grant never exceeds it (AWS: "The grantee principal
/// can only create grants that allow some or all of the operations in the parent grant", with
/// constraints "at least as strict").
@Suite("authorization: grants made through grants")
struct GrantDerivationTests {
    /// A principal with no access of its own but what grants give it.
    let delegate = Principal.user("delegate", account: Fixture.account)

    func grant(
        _ f: Fixture, key: String, to grantee: Principal, _ operations: [KMS.GrantOperation],
        constraints: KMS.GrantConstraints? = nil, by caller: Principal
    ) async throws -> KMS.CreateGrantResponse {
        try await f.kms.createGrant(
            .init(keyId: key, granteePrincipal: grantee.arn, operations: operations, constraints: constraints), by: caller)
    }

    @Test("a CreateGrant-only grant cannot give its holder Decrypt, so the admin's secrets stay shut")
    func createGrantOnlyCannotEscalate() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let secret = try await f.encrypt("admin only", key: key)
        _ = try await grant(f, key: key, to: delegate, [.createGrant], by: f.admin)
        for operations in [[KMS.GrantOperation.decrypt], [.encrypt], [.generateDataKey], [.createGrant, .decrypt], [.retireGrant]] {
            let error = await kmsError { _ = try await grant(f, key: key, to: delegate, operations, by: delegate) }
            #expect(error == .accessDenied, "\(operations)")
        }
        #expect(await kmsError { _ = try await f.decrypt(secret, as: delegate) } == .accessDenied)
        // Passing CreateGrant on is within the parent grant.
        _ = try await grant(f, key: key, to: f.function, [.createGrant], by: delegate)
        #expect(try await f.kms.listGrants(.init(keyId: key), by: f.admin).grants?.count == 2)
    }

    @Test("the child grant's operations are a subset of the parent's")
    func operationsAreASubset() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let secret = try await f.encrypt("shared", key: key)
        _ = try await grant(f, key: key, to: delegate, [.decrypt, .createGrant], by: f.admin)
        _ = try await grant(f, key: key, to: f.function, [.decrypt], by: delegate)
        #expect(try await f.decrypt(secret, as: f.function) == "shared")
        #expect(await kmsError { _ = try await grant(f, key: key, to: f.function, [.decrypt, .encrypt], by: delegate) } == .accessDenied)
        #expect(await kmsError { _ = try await grant(f, key: key, to: f.function, [.reEncryptFrom], by: delegate) } == .accessDenied)
        // A policy-authorized CreateGrant is not capped.
        _ = try await grant(f, key: key, to: f.function, [.encrypt, .generateDataKey, .describeKey], by: f.admin)
    }

    @Test("the denial says why: the parent grant does not include the operation")
    func denialNamesTheReason() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        _ = try await grant(f, key: key, to: delegate, [.createGrant], by: f.admin)
        do {
            _ = try await grant(f, key: key, to: delegate, [.decrypt], by: delegate)
            Issue.record("a CreateGrant-only grant created a Decrypt grant")
        } catch let error as KMSError {
            #expect(error.type == .accessDenied)
            #expect(error.message.contains("Decrypt"), "\(error.message)")
            #expect(error.message.contains("grant"), "\(error.message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    /// (parent constraint, child constraint, allowed?) following AWS's examples.
    static let constraintCases: [(KMS.GrantConstraints?, KMS.GrantConstraints?, Bool)] = [
        (.init(encryptionContextSubset: ["Dept": "IT"]), .init(encryptionContextSubset: ["Dept": "IT"]), true),
        (.init(encryptionContextSubset: ["Dept": "IT"]), .init(encryptionContextSubset: ["Dept": "IT", "Team": "db"]), true),
        (.init(encryptionContextSubset: ["Dept": "IT"]), .init(encryptionContextEquals: ["Dept": "IT"]), true),
        (.init(encryptionContextSubset: ["Dept": "IT"]), .init(encryptionContextEquals: ["Dept": "IT", "Team": "db"]), true),
        (.init(encryptionContextSubset: ["Dept": "IT"]), nil, false),
        (.init(encryptionContextSubset: ["Dept": "IT"]), .init(encryptionContextSubset: ["Dept": "HR"]), false),
        (.init(encryptionContextSubset: ["Dept": "IT"]), .init(encryptionContextSubset: ["Team": "db"]), false),
        (.init(encryptionContextSubset: ["Dept": "IT"]), .init(encryptionContextEquals: ["Team": "db"]), false),
        (.init(encryptionContextEquals: ["Dept": "IT"]), .init(encryptionContextEquals: ["Dept": "IT"]), true),
        (.init(encryptionContextEquals: ["Dept": "IT"]), .init(encryptionContextSubset: ["Dept": "IT"]), false),
        (.init(encryptionContextEquals: ["Dept": "IT"]), .init(encryptionContextEquals: ["Dept": "IT", "Team": "db"]), false),
        (.init(encryptionContextEquals: ["Dept": "IT"]), nil, false),
        (nil, .init(encryptionContextSubset: ["Dept": "IT"]), true),
        (nil, nil, true),
        // Constraint keys compare without case, values exactly.
        (.init(encryptionContextSubset: ["Dept": "IT"]), .init(encryptionContextSubset: ["dept": "IT"]), true),
        (.init(encryptionContextEquals: ["Dept": "IT"]), .init(encryptionContextEquals: ["DEPT": "IT"]), true),
        (.init(encryptionContextSubset: ["Dept": "IT"]), .init(encryptionContextSubset: ["Dept": "it"]), false),
        (.init(encryptionContextEquals: ["Dept": "IT"]), .init(encryptionContextEquals: ["Dept": "It"]), false),
    ]

    @Test("the child's constraints are at least as strict as the parent's", arguments: 0 ..< constraintCases.count)
    func constraintsNoWeaker(index: Int) async throws {
        let (parent, child, allowed) = Self.constraintCases[index]
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        _ = try await grant(f, key: key, to: delegate, [.decrypt, .createGrant], constraints: parent, by: f.admin)
        let error = await kmsError { _ = try await grant(f, key: key, to: f.function, [.decrypt], constraints: child, by: delegate) }
        #expect(error == (allowed ? nil : .accessDenied), "parent \(String(describing: parent)), child \(String(describing: child))")
    }

    @Test("the limit applies again to a grant made through a derived grant")
    func recursive() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let billing = try await f.encrypt("billing", key: key, context: ["Dept": "IT"])
        _ = try await grant(f, key: key, to: delegate, [.decrypt, .createGrant], constraints: .init(encryptionContextSubset: ["Dept": "IT"]), by: f.admin)
        _ = try await grant(f, key: key, to: f.function, [.decrypt, .createGrant], constraints: .init(encryptionContextEquals: ["Dept": "IT"]), by: delegate)
        let third = Principal.user("third", account: Fixture.account)
        #expect(await kmsError { _ = try await grant(f, key: key, to: third, [.decrypt], constraints: .init(encryptionContextSubset: ["Dept": "IT"]), by: f.function) } == .accessDenied)
        #expect(await kmsError { _ = try await grant(f, key: key, to: third, [.decrypt], by: f.function) } == .accessDenied)
        _ = try await grant(f, key: key, to: third, [.decrypt], constraints: .init(encryptionContextEquals: ["Dept": "IT"]), by: f.function)
        #expect(try await f.decrypt(billing, context: ["Dept": "IT"], as: third) == "billing")
        let other = try await f.encrypt("other", key: key, context: ["Dept": "IT", "x": "y"])
        #expect(await kmsError { _ = try await f.decrypt(other, context: ["Dept": "IT", "x": "y"], as: third) } == .accessDenied)
    }

    @Test("a CreateGrant grant may carry constraints, and the new grant's own constraint must satisfy them")
    func createGrantWithConstraints() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        _ = try await grant(f, key: key, to: delegate, [.createGrant, .decrypt], constraints: .init(encryptionContextEquals: ["app": "a"]), by: f.admin)
        let listed = try await f.kms.listGrants(.init(keyId: key), by: f.admin)
        #expect(listed.grants?.first?.constraints?.encryptionContextEquals == ["app": "a"])
        _ = try await grant(f, key: key, to: f.function, [.decrypt], constraints: .init(encryptionContextEquals: ["app": "a"]), by: delegate)
        #expect(await kmsError { _ = try await grant(f, key: key, to: f.function, [.decrypt], constraints: .init(encryptionContextEquals: ["app": "b"]), by: delegate) } == .accessDenied)
        // Constraints still make no sense on a grant of management operations only.
        #expect(await kmsError { _ = try await grant(f, key: key, to: f.function, [.describeKey], constraints: .init(encryptionContextEquals: ["app": "a"]), by: f.admin) } == .validation)
    }

    @Test("soundness: every context a permitted child grant admits, its parent admits too")
    func derivationIsSound() {
        // Every constraint over two keys with two values each, and every context over them.
        let pairs: [[String: String]] = {
            var all: [[String: String]] = [[:]]
            for key in ["a", "b"] {
                all = all.flatMap { base in [base] + ["1", "2"].map { base.merging([key: $0]) { _, new in new } } }
            }
            return all
        }()
        let constraints: [(equals: [String: String]?, subset: [String: String]?)] =
            [(nil, nil)] + pairs.map { (equals: $0, subset: nil) } + pairs.map { (equals: nil, subset: $0) }
        func grant(_ constraint: (equals: [String: String]?, subset: [String: String]?)) -> GrantRecord {
            GrantRecord(
                id: "g", token: "t", keyID: UUID(), name: nil, granteePrincipal: "p", retiringPrincipal: nil,
                operations: ["Decrypt", "CreateGrant"], encryptionContextSubset: constraint.subset,
                encryptionContextEquals: constraint.equals, issuingAccount: "a", createdAt: Date(), createdBy: "p")
        }
        var permitted = 0
        for parent in constraints {
            for child in constraints {
                guard grant(parent).excess(operations: ["Decrypt"], equals: child.equals, subset: child.subset) == nil else { continue }
                permitted += 1
                for context in pairs where grant(child).allows(principal: "p", operation: "Decrypt", context: context) {
                    #expect(grant(parent).allows(principal: "p", operation: "Decrypt", context: context),
                            "parent \(parent), child \(child), context \(context)")
                }
            }
        }
        #expect(permitted > constraints.count, "the rule permits more than identical constraints")
    }
}
