import Foundation
import KMSWire
import Testing
@testable import KeyService

/// AWS's default key policy: its only statement names the account root, which in AWS delegates to
/// identity policies and grants nothing by itself.
let stockAWSDefaultPolicy = """
{
  "Version": "2012-10-17",
  "Id": "key-default-1",
  "Statement": [
    {
      "Sid": "Enable IAM User Permissions",
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
      "Action": "kms:*",
      "Resource": "*"
    }
  ]
}
"""

@Suite("principal identity: the account root delegates, and a recreated principal is another one")
struct PrincipalIdentityTests {
    @Test("the stock AWS root statement alone gives a principal of the account nothing")
    func rootStatementAloneGrantsNothing() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey(policy: stockAWSDefaultPolicy)
        let attacker = f.function
        #expect(await kmsError { _ = try await f.encrypt("x", key: key, as: attacker) } == .accessDenied)
        #expect(await kmsError { _ = try await f.kms.generateDataKey(.init(keyId: key, keySpec: .aes256), by: attacker) } == .accessDenied)
        #expect(await kmsError { _ = try await f.kms.describeKey(.init(keyId: key), by: attacker) } == .accessDenied)
        #expect(await kmsError { try await f.kms.putKeyPolicy(.init(keyId: key, policy: stockAWSDefaultPolicy), by: attacker) } == .accessDenied)
        #expect(await kmsError { _ = try await f.kms.scheduleKeyDeletion(.init(keyId: key), by: attacker) } == .accessDenied)
        #expect(await kmsError { try await f.kms.disableKey(.init(keyId: key), by: attacker) } == .accessDenied)
        #expect(await kmsError {
            _ = try await f.kms.createGrant(.init(keyId: key, granteePrincipal: attacker.arn, operations: [.decrypt]), by: attacker)
        } == .accessDenied)
        // Not even the admin, without an identity policy: the statement names no one directly.
        #expect(await kmsError { _ = try await f.encrypt("x", key: key, as: f.admin) } == .accessDenied)
        #expect(await kmsError { _ = try await f.encrypt("x", key: key, as: f.stranger) } == .accessDenied)
    }

    @Test("a principal deleted and created again under the same name gets none of the old one's grants")
    func recreatedPrincipalGetsNoGrants() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let root = try await RootKey.open(.file(f.directory.appendingPathComponent("root.key").path), store: f.store)
        let directory = PrincipalDirectory(store: f.store, root: root, account: Fixture.account)
        let original = PrincipalDirectory.principal(try await directory.create(name: "ghost").record)
        let key = try await f.newKey()
        let blob = try await f.encrypt("granted", key: key)
        let grant = try await f.kms.createGrant(.init(keyId: key, granteePrincipal: original.arn, operations: [.decrypt]), by: f.admin)
        #expect(try await f.decrypt(blob, as: original) == "granted")

        let stored = try #require(try await f.store.principals().first { $0.name == "ghost" })
        #expect(try await f.store.deletePrincipal(accessKeyID: stored.accessKeyID))
        let impostor = PrincipalDirectory.principal(try await directory.create(name: "ghost").record)
        #expect(impostor.arn == original.arn)
        #expect(await kmsError { _ = try await f.decrypt(blob, as: impostor) } == .accessDenied)
        #expect(await kmsError {
            _ = try await f.kms.decrypt(.init(ciphertextBlob: blob, grantTokens: [grant.grantToken ?? ""]), by: impostor)
        } != nil)
        let left = try await f.kms.listGrants(.init(keyId: key), by: f.admin).grants ?? []
        #expect(!left.contains { $0.grantId == grant.grantId }, "the deleted principal's grant is deleted with it")
    }
}

@Suite("identity policies: evaluated as IAM evaluates them for callers of the key's account")
struct IdentityPolicyTests {
    typealias F = KeyPolicyFixtures

    static func identity(_ statements: String...) throws -> IdentityPolicy {
        try IdentityPolicy(json: #"{"Version": "2012-10-17", "Statement": ["# + statements.joined(separator: ",") + "]}")
    }

    @Test("an identity policy names no principal, and is otherwise a key policy's language")
    func parsing() throws {
        for statement in [
            #"{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}"#,
            #"{"Effect": "Deny", "NotPrincipal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"}"#,
        ] {
            let error = #expect(throws: PolicyError.self) { try Self.identity(statement) }
            #expect(error?.kind == .unknownElement)
            #expect(error?.element == "Principal" || error?.element == "NotPrincipal")
        }
        let noResource = #expect(throws: PolicyError.self) { try Self.identity(#"{"Effect": "Allow", "Action": "kms:*"}"#) }
        #expect(noResource?.kind == .missingElement)
        let notKMS = #expect(throws: PolicyError.self) { try Self.identity(#"{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}"#) }
        #expect(notKMS?.kind == .invalidAction)
        #expect(throws: PolicyError.self) { try IdentityPolicy(json: "[]") }
    }

    @Test("the stock root statement lets an identity policy allow: only its actions, only on its resources")
    func delegation() throws {
        let stock = try KeyPolicy(json: stockAWSDefaultPolicy)
        let request = F.request(F.billing, "kms:Decrypt")
        #expect(stock.evaluate(request) == .implicitDeny)
        #expect(stock.evaluate(request, identityPolicy: nil) == .implicitDeny)
        let thisKey = try Self.identity(#"{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "\#(F.keyARN)"}"#)
        #expect(stock.evaluate(request, identityPolicy: thisKey) == .allow)
        #expect(stock.evaluate(F.request(F.billing, "kms:Encrypt"), identityPolicy: thisKey) == .implicitDeny)
        #expect(stock.evaluate(F.request(F.billing, "kms:Decrypt", resource: F.otherKeyARN), identityPolicy: thisKey) == .implicitDeny)
        let everyKey = try Self.identity(#"{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:us-east-1:111122223333:key/*"}"#)
        #expect(stock.evaluate(F.request(F.billing, "kms:Decrypt", resource: F.otherKeyARN), identityPolicy: everyKey) == .allow)
        // Another account's principal is not delegated to by this account's root.
        #expect(stock.evaluate(F.request(F.stranger, "kms:Decrypt"), identityPolicy: everyKey) == .implicitDeny)

        // The root statement delegates only what it covers, under its conditions.
        let narrow = try F.policy(F.allow(
            principal: #"{"AWS": "arn:aws:iam::111122223333:root"}"#, action: #""kms:Decrypt""#,
            condition: #"{"StringEquals": {"kms:EncryptionContext:app": "billing"}}"#))
        let everything = try Self.identity(#"{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}"#)
        #expect(narrow.evaluate(F.request(F.billing, "kms:Decrypt", context: ["app": "billing"]), identityPolicy: everything) == .allow)
        #expect(narrow.evaluate(F.request(F.billing, "kms:Decrypt", context: ["app": "payroll"]), identityPolicy: everything) == .implicitDeny)
        #expect(narrow.evaluate(F.request(F.billing, "kms:ScheduleKeyDeletion"), identityPolicy: everything) == .implicitDeny)
    }

    @Test("an explicit Deny in either policy wins; a Deny naming the account applies to all its principals")
    func denies() throws {
        let direct = try F.policy(F.allow())
        let deny = try Self.identity(#"{"Sid": "NoDecrypt", "Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}"#)
        #expect(direct.evaluate(F.request()) == .allow)
        #expect(direct.evaluate(F.request(), identityPolicy: deny) == .explicitDeny(sid: "NoDecrypt"))
        let accountDeny = try F.policy(F.allow(), F.deny(principal: #"{"AWS": "111122223333"}"#, sid: "AccountDeny"))
        let everything = try Self.identity(#"{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}"#)
        #expect(accountDeny.evaluate(F.request(), identityPolicy: everything) == .explicitDeny(sid: "AccountDeny"))
        #expect(accountDeny.evaluate(F.request(F.stranger)) == .implicitDeny)
    }

    @Test("the engine: identity policies allow through the root statement, deny everywhere, and a broken one fails closed")
    func engine() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let administrator = Principal.user("admin", account: Fixture.account, isAdmin: true,
                                           identityPolicy: PrincipalDirectory.administratorPolicy)
        let key = try await f.kms.createKey(.init(policy: stockAWSDefaultPolicy), by: administrator).keyMetadata?.arn ?? ""
        let blob = try await f.encrypt("s3cr3t", key: key, as: administrator)
        _ = try await f.kms.scheduleKeyDeletion(.init(keyId: key), by: administrator)
        _ = try await f.kms.cancelKeyDeletion(.init(keyId: key), by: administrator)
        try await f.kms.enableKey(.init(keyId: key), by: administrator)

        let decrypter = Principal.user("billing-fn", account: Fixture.account, identityPolicy:
            #"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "\#(key)"}]}"#)
        #expect(try await f.decrypt(blob, as: decrypter) == "s3cr3t")
        #expect(await kmsError { _ = try await f.encrypt("x", key: key, as: decrypter) } == .accessDenied)

        // An identity Deny also beats a grant.
        let denied = Principal.user("denied-fn", account: Fixture.account, identityPolicy:
            #"{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}]}"#)
        _ = try await f.kms.createGrant(.init(keyId: key, granteePrincipal: denied.arn, operations: [.decrypt]), by: administrator)
        #expect(await kmsError { _ = try await f.decrypt(blob, as: denied) } == .accessDenied)

        let broken = Principal.user("broken-fn", account: Fixture.account, identityPolicy: #"{"Statement": "#)
        #expect(await kmsError { _ = try await f.decrypt(blob, as: broken) } == .kmsInternal)
    }

    @Test("the lockout check accepts a policy delegating PutKeyPolicy to the caller's account, and refuses one that does not")
    func lockout() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        try await f.kms.putKeyPolicy(.init(keyId: key, policy: stockAWSDefaultPolicy), by: f.admin)
        let encryptOnly = #"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:Encrypt", "Resource": "*"}]}"#
        let administrator = Principal.user("admin", account: Fixture.account, isAdmin: true,
                                           identityPolicy: PrincipalDirectory.administratorPolicy)
        #expect(await kmsError { try await f.kms.putKeyPolicy(.init(keyId: key, policy: encryptOnly), by: administrator) } == .malformedPolicyDocument)
    }

    @Test("grants bind to the principal their ARN names when made; a namesake may neither use nor retire them")
    func grantBinding() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let root = try await RootKey.open(.file(f.directory.appendingPathComponent("root.key").path), store: f.store)
        let directory = PrincipalDirectory(store: f.store, root: root, account: Fixture.account)
        let key = try await f.newKey()
        let blob = try await f.encrypt("granted", key: key)

        // A grant to a name no principal has yet is not usable by a principal created later.
        let early = try await f.kms.createGrant(.init(keyId: key, granteePrincipal: "arn:aws:iam::111122223333:user/later",
                                                      operations: [.decrypt]), by: f.admin)
        let later = PrincipalDirectory.principal(try await directory.create(name: "later").record)
        #expect(await kmsError { _ = try await f.decrypt(blob, as: later) } == .accessDenied)
        #expect(try await f.kms.listGrants(.init(keyId: key), by: f.admin).grants?.contains { $0.grantId == early.grantId } == true)

        // The retiring principal's namesake may not retire, nor list it as its own.
        let grantee = PrincipalDirectory.principal(try await directory.create(name: "grantee").record)
        let retirer = PrincipalDirectory.principal(try await directory.create(name: "retirer").record)
        let grant = try await f.kms.createGrant(
            .init(keyId: key, granteePrincipal: grantee.arn, retiringPrincipal: retirer.arn, operations: [.decrypt]), by: f.admin)
        #expect(try await f.kms.listRetirableGrants(.init(retiringPrincipal: retirer.arn), by: retirer).grants?.count == 1)
        let stored = try #require(try await f.store.principals().first { $0.name == "retirer" })
        #expect(try await f.store.deletePrincipal(accessKeyID: stored.accessKeyID))
        let namesake = PrincipalDirectory.principal(try await directory.create(name: "retirer").record)
        #expect(try await f.kms.listRetirableGrants(.init(retiringPrincipal: namesake.arn), by: namesake).grants?.isEmpty == true)
        let listed = try await f.kms.listGrants(.init(keyId: key), by: f.admin).grants?.first { $0.grantId == grant.grantId }
        #expect(listed?.retiringPrincipal == stored.uniqueID, "ListGrants shows a deleted retiring principal by its unique id")
        #expect(await kmsError { try await f.kms.retireGrant(.init(grantToken: grant.grantToken), by: namesake) } == .accessDenied)
        #expect(try await f.decrypt(blob, as: grantee) == "granted", "the grantee keeps a grant whose retiring principal was deleted")
        try await f.kms.retireGrant(.init(grantToken: grant.grantToken), by: f.admin)
    }
}

@Suite("a deleted principal's name in key policies becomes its unique id")
struct PrincipalRebindingTests {
    static let ghost = "arn:aws:iam::111122223333:user/ghost"
    static let id = "AIDAGHOSTGHOSTGHOST2"

    @Test("Principal entries naming the ARN are replaced, in every JSON spelling; conditions and other bytes are kept")
    func rewriting() throws {
        let json = #"""
        {"Version": "2012-10-17", "Statement": [
          {"Sid": "One", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/ghost"}, "Action": "kms:Decrypt", "Resource": "*"},
          {"Sid": "Two", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:user/admin", "arn:aws:iam::111122223333:user\/gh\u006fst"]},
           "Action": "kms:*", "Resource": "*"},
          {"Sid": "Three", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
           "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/ghost"}}}
        ]}
        """#
        let rewritten = try #require(KeyPolicy.replacingPrincipal(Self.ghost, with: Self.id, in: json))
        let policy = try KeyPolicy(json: rewritten)
        #expect(!policy.namesPrincipal(Self.ghost))
        #expect(policy.statements[0].principals == [.arn(Self.id)])
        #expect(policy.statements[1].principals == [.arn("arn:aws:iam::111122223333:user/admin"), .arn(Self.id)])
        #expect(rewritten.contains(#""aws:PrincipalArn": "arn:aws:iam::111122223333:user/ghost""#), "conditions keep the ARN")
        #expect(policy.evaluate(KeyPolicyFixtures.request(Self.ghost)) == .explicitDeny(sid: "Three"))
        #expect(policy.evaluate(KeyPolicyFixtures.request(Self.ghost, "kms:Encrypt")) == .implicitDeny)
        #expect(KeyPolicy.replacingPrincipal("arn:aws:iam::111122223333:user/nobody", with: Self.id, in: json) == nil)
        #expect(KeyPolicy.replacingPrincipal(Self.ghost, with: Self.id, in: "{not json") == nil)
        // The rest of the document is byte for byte the same.
        let once = try #require(KeyPolicy.replacingPrincipal(Self.ghost, with: Self.id,
            in: #"{"Statement": {"Effect": "Allow",  "Principal": {"AWS": "arn:aws:iam::111122223333:user/ghost"}, "Action": "kms:*", "Resource": "*"}}"#))
        #expect(once == #"{"Statement": {"Effect": "Allow",  "Principal": {"AWS": "AIDAGHOSTGHOSTGHOST2"}, "Action": "kms:*", "Resource": "*"}}"#)
    }

    @Test("deleting a principal rewrites the key policies naming it, so a namesake is not the one they meant")
    func deletion() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let root = try await RootKey.open(.file(f.directory.appendingPathComponent("root.key").path), store: f.store)
        let directory = PrincipalDirectory(store: f.store, root: root, account: Fixture.account)
        let made = try await directory.create(name: "ghost")
        let original = PrincipalDirectory.principal(made.record)
        let policy = #"{"Version": "2012-10-17", "Statement": ["#
            + #"{"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/admin"}, "Action": "kms:*", "Resource": "*"},"#
            + #"{"Sid": "Ghost", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/ghost"}, "Action": "kms:Decrypt", "Resource": "*"}]}"#
        let key = try await f.newKey(policy: policy)
        let untouched = try await f.newKey()
        let blob = try await f.encrypt("named", key: key)
        #expect(try await f.decrypt(blob, as: original) == "named")

        let deleted = try await directory.delete(accessKeyID: made.record.accessKeyID)
        #expect(deleted?.uniqueID == made.record.uniqueID)
        #expect(try await directory.delete(accessKeyID: made.record.accessKeyID) == nil)
        let impostor = PrincipalDirectory.principal(try await directory.create(name: "ghost").record)
        // The engine caches key records for a second; a CLI deletes in another process.
        f.kms.forgetKey(try #require(UUID(uuidString: String(key.split(separator: "/").last ?? ""))))
        #expect(await kmsError { _ = try await f.decrypt(blob, as: impostor) } == .accessDenied)
        let shown = try await f.kms.getKeyPolicy(.init(keyId: key), by: f.admin).policy ?? ""
        #expect(shown.contains(#""AWS": "\#(made.record.uniqueID)""#))
        #expect(!shown.contains("user/ghost"))
        let other = try await f.kms.getKeyPolicy(.init(keyId: untouched), by: f.admin).policy
        #expect(other == KeyPolicy.defaultPolicy(account: Fixture.account, admins: [f.admin.arn]).json)
    }
}
