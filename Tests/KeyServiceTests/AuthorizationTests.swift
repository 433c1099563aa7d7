import Foundation
import KMSWire
import Testing
@testable import KeyService

@Suite("authorization: key policies and grants")
struct AuthorizationTests {
    @Test("the default policy lets the creator and admins in, and no one else")
    func defaultPolicy() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        _ = try await f.encrypt("x", key: key)
        #expect(await kmsError { _ = try await f.encrypt("x", key: key, as: f.function) } == .accessDenied)
        #expect(await kmsError { _ = try await f.encrypt("x", key: key, as: f.stranger) } == .accessDenied)
        #expect(await kmsError { _ = try await f.kms.createKey(.init(), by: f.function) } == .accessDenied)
    }

    @Test("a least-privilege function may Decrypt only with its own context, and nothing else")
    func leastPrivilege() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey(policy: functionPolicy)
        let mine = try await f.encrypt("db-password", key: key, context: ["LambdaFunctionName": "billing"])
        let theirs = try await f.encrypt("other", key: key, context: ["LambdaFunctionName": "payroll"])
        #expect(try await f.decrypt(mine, context: ["LambdaFunctionName": "billing"], as: f.function) == "db-password")
        #expect(await kmsError { _ = try await f.decrypt(theirs, context: ["LambdaFunctionName": "payroll"], as: f.function) } == .accessDenied)
        #expect(await kmsError { _ = try await f.decrypt(mine, as: f.function) } == .accessDenied)
        #expect(await kmsError { _ = try await f.encrypt("x", key: key, context: ["LambdaFunctionName": "billing"], as: f.function) } == .accessDenied)
        #expect(await kmsError { _ = try await f.kms.describeKey(.init(keyId: key), by: f.function) } == .accessDenied)
        #expect(await kmsError { try await f.kms.disableKey(.init(keyId: key), by: f.function) } == .accessDenied)
    }

    @Test("authorization comes before any unwrapping: a denied caller learns nothing about the ciphertext")
    func authorizeBeforeUnwrap() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey(policy: functionPolicy)
        var blob = try await f.encrypt("x", key: key, context: ["LambdaFunctionName": "payroll"])
        blob[blob.count - 1] ^= 1
        // The admin (allowed) sees the damage; the function (denied for this context) only sees the denial.
        #expect(await kmsError { _ = try await f.decrypt(blob, context: ["LambdaFunctionName": "payroll"]) } == .invalidCiphertext)
        #expect(await kmsError { _ = try await f.decrypt(blob, context: ["LambdaFunctionName": "payroll"], as: f.function) } == .accessDenied)
    }

    @Test("an explicit Deny wins over any Allow")
    func explicitDeny() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let policy = """
        {"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"},
          {"Sid":"NoDecrypt","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:Decrypt","Resource":"*"}]}
        """
        let key = try await f.newKey(policy: policy)
        let blob = try await f.encrypt("x", key: key)
        #expect(await kmsError { _ = try await f.decrypt(blob) } == .accessDenied)
    }

    @Test("PutKeyPolicy refuses a policy that locks the caller out, unless the safety check is bypassed")
    func lockoutSafety() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let lockout = """
        {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:Encrypt","Resource":"*"}]}
        """
        #expect(await kmsError { try await f.kms.putKeyPolicy(.init(keyId: key, policy: lockout), by: f.admin) } == .malformedPolicyDocument)
        #expect(await kmsError { try await f.kms.putKeyPolicy(.init(keyId: key, policy: "{not json"), by: f.admin) } == .malformedPolicyDocument)
        #expect(await kmsError { _ = try await f.kms.createKey(.init(policy: lockout), by: f.admin) } == .malformedPolicyDocument)
        try await f.kms.putKeyPolicy(.init(keyId: key, policy: functionPolicy), by: f.admin)
        #expect(try await f.kms.getKeyPolicy(.init(keyId: key), by: f.admin).policy == functionPolicy)
        #expect(try await f.kms.listKeyPolicies(.init(keyId: key), by: f.admin).policyNames == ["default"])
        #expect(await kmsError { _ = try await f.kms.getKeyPolicy(.init(keyId: key, policyName: "other"), by: f.admin) } == .notFound)
        try await f.kms.putKeyPolicy(.init(keyId: key, policy: lockout, bypassPolicyLockoutSafetyCheck: true), by: f.admin)
        #expect(await kmsError { _ = try await f.kms.getKeyPolicy(.init(keyId: key), by: f.admin) } == .accessDenied)
    }

    @Test("a grant constraint's keys match without case, its values exactly")
    func constraintKeyCase() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let lower = try await f.encrypt("lower", key: key, context: ["tenant": "a"])
        let otherValue = try await f.encrypt("other", key: key, context: ["tenant": "A"])
        _ = try await f.kms.createGrant(
            .init(keyId: key, granteePrincipal: f.function.arn, operations: [.decrypt], constraints: .init(encryptionContextSubset: ["Tenant": "a"])),
            by: f.admin)
        #expect(try await f.decrypt(lower, context: ["tenant": "a"], as: f.function) == "lower")
        #expect(await kmsError { _ = try await f.decrypt(otherValue, context: ["tenant": "A"], as: f.function) } == .accessDenied)
        let exact = try await f.newKey()
        let blob = try await f.encrypt("exact", key: exact, context: ["TENANT": "b"])
        let extra = try await f.encrypt("extra", key: exact, context: ["TENANT": "b", "x": "1"])
        _ = try await f.kms.createGrant(
            .init(keyId: exact, granteePrincipal: f.function.arn, operations: [.decrypt], constraints: .init(encryptionContextEquals: ["tenant": "b"])),
            by: f.admin)
        #expect(try await f.decrypt(blob, context: ["TENANT": "b"], as: f.function) == "exact")
        #expect(await kmsError { _ = try await f.decrypt(extra, context: ["TENANT": "b", "x": "1"], as: f.function) } == .accessDenied)
    }

    @Test("grants allow their operations within their context constraints, until retired or revoked")
    func grants() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let blob = try await f.encrypt("via grant", key: key, context: ["tenant": "a", "extra": "1"])
        let other = try await f.encrypt("other tenant", key: key, context: ["tenant": "b"])
        #expect(await kmsError { _ = try await f.decrypt(blob, context: ["tenant": "a", "extra": "1"], as: f.function) } == .accessDenied)
        let grant = try await f.kms.createGrant(
            .init(keyId: key, granteePrincipal: f.function.arn, retiringPrincipal: f.admin.arn, operations: [.decrypt],
                  constraints: .init(encryptionContextSubset: ["tenant": "a"]), name: "tenant-a"), by: f.admin)
        let again = try await f.kms.createGrant(
            .init(keyId: key, granteePrincipal: f.function.arn, retiringPrincipal: f.admin.arn, operations: [.decrypt],
                  constraints: .init(encryptionContextSubset: ["tenant": "a"]), name: "tenant-a"), by: f.admin)
        #expect(again.grantId == grant.grantId, "CreateGrant with the same name and parameters returns the same grant")
        #expect(try await f.decrypt(blob, context: ["tenant": "a", "extra": "1"], as: f.function) == "via grant")
        #expect(await kmsError { _ = try await f.decrypt(other, context: ["tenant": "b"], as: f.function) } == .accessDenied)
        #expect(await kmsError { _ = try await f.encrypt("x", key: key, context: ["tenant": "a"], as: f.function) } == .accessDenied)
        #expect(await kmsError { _ = try await f.kms.decrypt(.init(ciphertextBlob: blob, encryptionContext: ["tenant": "a", "extra": "1"], grantTokens: ["bogus"]), by: f.function) } == .invalidGrantToken)
        let listed = try await f.kms.listGrants(.init(keyId: key), by: f.admin)
        #expect(listed.grants?.count == 1 && listed.grants?.first?.constraints?.encryptionContextSubset == ["tenant": "a"])
        #expect(try await f.kms.listRetirableGrants(.init(retiringPrincipal: f.admin.arn), by: f.admin).grants?.count == 1)
        #expect(await kmsError { _ = try await f.kms.listRetirableGrants(.init(retiringPrincipal: f.admin.arn), by: f.function) } == .accessDenied)
        // The grantee may not retire it (the grant lacks RetireGrant); the retiring principal may.
        #expect(await kmsError { try await f.kms.retireGrant(.init(grantToken: grant.grantToken), by: f.function) } == .accessDenied)
        try await f.kms.retireGrant(.init(grantToken: grant.grantToken), by: f.admin)
        #expect(await kmsError { _ = try await f.decrypt(blob, context: ["tenant": "a", "extra": "1"], as: f.function) } == .accessDenied)
        // EncryptionContextEquals, then RevokeGrant.
        let exact = try await f.kms.createGrant(
            .init(keyId: key, granteePrincipal: f.function.arn, operations: [.decrypt], constraints: .init(encryptionContextEquals: ["tenant": "b"])),
            by: f.admin)
        #expect(try await f.decrypt(other, context: ["tenant": "b"], as: f.function) == "other tenant")
        #expect(await kmsError { _ = try await f.decrypt(blob, context: ["tenant": "a", "extra": "1"], as: f.function) } == .accessDenied)
        try await f.kms.revokeGrant(.init(keyId: key, grantId: try #require(exact.grantId)), by: f.admin)
        #expect(await kmsError { _ = try await f.decrypt(other, context: ["tenant": "b"], as: f.function) } == .accessDenied)
        #expect(await kmsError { try await f.kms.revokeGrant(.init(keyId: key, grantId: try #require(exact.grantId)), by: f.admin) } == .notFound)
        #expect(await kmsError { _ = try await f.kms.createGrant(.init(keyId: key, granteePrincipal: f.function.arn, operations: [.decrypt]), by: f.function) } == .accessDenied)
    }
}
