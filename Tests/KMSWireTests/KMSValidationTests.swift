import Foundation
@testable import KMSWire
import Testing

/// The model's constraints, checked by the generated `validate()` methods.
@Suite("KMS request validation")
struct KMSValidationTests {
    /// The message of the `ValidationException` that `validate()` throws, or `nil` if it passes.
    private func violation(_ request: some KMSRequest) -> String? {
        do {
            try request.validate()
            return nil
        } catch {
            #expect(error.type == .validation)
            #expect(error.httpStatus == 400)
            return error.message
        }
    }

    private func single(_ path: String, _ constraint: String) -> String {
        "1 validation error detected: Value at '\(path)' failed to satisfy constraint: \(constraint)"
    }

    // MARK: Blobs

    @Test func plaintextIsOneTo4096BytesAndNeverEchoed() throws {
        let secret = Data("TOP-SECRET-PLAINTEXT".utf8)
        var tooLong = Data()
        while tooLong.count <= 4096 { tooLong += secret }

        #expect(violation(KMS.EncryptRequest(keyId: "k", plaintext: Data(repeating: 7, count: 4096))) == nil)
        #expect(violation(KMS.EncryptRequest(keyId: "k", plaintext: Data([1]))) == nil)
        #expect(violation(KMS.EncryptRequest(keyId: "k", plaintext: Data()))
            == single("plaintext", "Member must have length greater than or equal to 1"))
        let message = try #require(violation(KMS.EncryptRequest(keyId: "k", plaintext: tooLong)))
        #expect(message == single("plaintext", "Member must have length less than or equal to 4096"))
        #expect(!message.contains("TOP-SECRET"))
        #expect(!message.contains(tooLong.base64EncodedString().prefix(16)))
    }

    @Test func ciphertextBlobIsOneTo6144Bytes() {
        #expect(violation(KMS.DecryptRequest(ciphertextBlob: Data(count: 6144))) == nil)
        #expect(violation(KMS.DecryptRequest(ciphertextBlob: Data()))
            == single("ciphertextBlob", "Member must have length greater than or equal to 1"))
        #expect(violation(KMS.DecryptRequest(ciphertextBlob: Data(count: 6145)))
            == single("ciphertextBlob", "Member must have length less than or equal to 6144"))
        #expect(violation(KMS.ReEncryptRequest(ciphertextBlob: Data(count: 6145), destinationKeyId: "k"))
            == single("ciphertextBlob", "Member must have length less than or equal to 6144"))
    }

    @Test func recipientAttestationDocumentIsNested() {
        let request = KMS.DecryptRequest(
            ciphertextBlob: Data([1]), recipient: KMS.RecipientInfo(keyEncryptionAlgorithm: .rsaesOaepSha256, attestationDocument: Data()))
        #expect(violation(request)
            == single("recipient.attestationDocument", "Member must have length greater than or equal to 1"))
    }

    // MARK: Integers

    @Test func numberOfBytesIsOneTo1024() {
        #expect(violation(KMS.GenerateRandomRequest(numberOfBytes: 1024)) == nil)
        #expect(violation(KMS.GenerateRandomRequest(numberOfBytes: 1)) == nil)
        #expect(violation(KMS.GenerateRandomRequest(numberOfBytes: 1025))
            == "1 validation error detected: Value at 'numberOfBytes' failed to satisfy constraint: "
            + "Member must have value less than or equal to 1024")
        #expect(violation(KMS.GenerateRandomRequest(numberOfBytes: 0))
            == single("numberOfBytes", "Member must have value greater than or equal to 1"))
        #expect(violation(KMS.GenerateDataKeyRequest(keyId: "k", numberOfBytes: 2048))
            == single("numberOfBytes", "Member must have value less than or equal to 1024"))
        #expect(violation(KMS.GenerateDataKeyWithoutPlaintextRequest(keyId: "k", numberOfBytes: -1))
            == single("numberOfBytes", "Member must have value greater than or equal to 1"))
    }

    /// The model allows 1–365; AWS's service then enforces 7–30, which is the service's job.
    @Test func pendingWindowInDaysFollowsTheModel() {
        for days in [1, 7, 30, 365] {
            #expect(violation(KMS.ScheduleKeyDeletionRequest(keyId: "k", pendingWindowInDays: days)) == nil)
        }
        #expect(violation(KMS.ScheduleKeyDeletionRequest(keyId: "k", pendingWindowInDays: 0))
            == single("pendingWindowInDays", "Member must have value greater than or equal to 1"))
        #expect(violation(KMS.ScheduleKeyDeletionRequest(keyId: "k", pendingWindowInDays: 366))
            == single("pendingWindowInDays", "Member must have value less than or equal to 365"))
    }

    @Test func limitIsOneTo1000() {
        #expect(violation(KMS.ListKeysRequest(limit: 1000)) == nil)
        #expect(violation(KMS.ListKeysRequest(limit: 0))
            == single("limit", "Member must have value greater than or equal to 1"))
        #expect(violation(KMS.ListAliasesRequest(limit: 1001))
            == single("limit", "Member must have value less than or equal to 1000"))
        #expect(violation(KMS.ListGrantsRequest(limit: 1001, keyId: "k"))
            == single("limit", "Member must have value less than or equal to 1000"))
        #expect(violation(KMS.EnableKeyRotationRequest(keyId: "k", rotationPeriodInDays: 89))
            == single("rotationPeriodInDays", "Member must have value greater than or equal to 90"))
    }

    // MARK: Lists

    @Test func atMostTenGrantTokensEachNonEmpty() {
        let ten = (1...10).map { "token-\($0)" }
        #expect(violation(KMS.EncryptRequest(keyId: "k", plaintext: Data([1]), grantTokens: ten)) == nil)
        #expect(violation(KMS.EncryptRequest(keyId: "k", plaintext: Data([1]), grantTokens: ten + ["token-11"]))
            == single("grantTokens", "Member must have length less than or equal to 10"))
        #expect(violation(KMS.DecryptRequest(ciphertextBlob: Data([1]), grantTokens: ["a", ""]))
            == single("grantTokens.2.member", "Member must have length greater than or equal to 1"))
    }

    @Test func grantOperationsMustBeKnown() {
        let request = KMS.CreateGrantRequest(
            keyId: "k", granteePrincipal: "arn:aws:iam::111122223333:role/app",
            operations: [.encrypt, KMS.GrantOperation(rawValue: "Bogus")])
        let message = violation(request)
        #expect(message?.hasPrefix(
            "1 validation error detected: Value 'Bogus' at 'operations.2.member' failed to satisfy constraint: "
                + "Member must satisfy enum value set: [Decrypt, Encrypt, ") == true)
    }

    // MARK: Strings

    @Test func aliasNameLengthAndPattern() {
        #expect(violation(KMS.CreateAliasRequest(aliasName: "alias/envseal-prod_1:x", targetKeyId: "k")) == nil)
        #expect(violation(KMS.CreateAliasRequest(aliasName: "alias/with space", targetKeyId: "k"))
            == "1 validation error detected: Value 'alias/with space' at 'aliasName' failed to satisfy constraint: "
            + "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$")
        #expect(violation(KMS.DeleteAliasRequest(aliasName: "alias/é"))?.contains("regular expression pattern") == true)
        let long = "alias/" + String(repeating: "a", count: 251)
        #expect(violation(KMS.UpdateAliasRequest(aliasName: long, targetKeyId: "k"))
            == single("aliasName", "Member must have length less than or equal to 256"))
        #expect(violation(KMS.UpdateAliasRequest(aliasName: "", targetKeyId: "k"))
            == "2 validation errors detected: Value at 'aliasName' failed to satisfy constraint: "
            + "Member must have length greater than or equal to 1; Value '' at 'aliasName' failed to satisfy "
            + "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$")
    }

    @Test func descriptionAtMost8192Characters() {
        let ok = String(repeating: "d", count: 8192)
        #expect(violation(KMS.CreateKeyRequest(description: ok)) == nil)
        #expect(violation(KMS.CreateKeyRequest(description: "")) == nil)
        #expect(violation(KMS.UpdateKeyDescriptionRequest(keyId: "k", description: ok + "d"))
            == single("description", "Member must have length less than or equal to 8192"))
        // Characters are counted as Unicode scalars, not UTF-8 bytes.
        #expect(violation(KMS.CreateKeyRequest(description: String(repeating: "é", count: 8192))) == nil)
    }

    @Test func keyIdOneTo2048() {
        #expect(violation(KMS.DescribeKeyRequest(keyId: ""))
            == single("keyId", "Member must have length greater than or equal to 1"))
        #expect(violation(KMS.DescribeKeyRequest(keyId: String(repeating: "k", count: 2049)))
            == single("keyId", "Member must have length less than or equal to 2048"))
    }

    @Test func tagsAreValidatedPerMember() {
        #expect(violation(KMS.TagResourceRequest(keyId: "k", tags: [KMS.Tag(tagKey: "env", tagValue: "")])) == nil)
        let request = KMS.TagResourceRequest(keyId: "k", tags: [
            KMS.Tag(tagKey: "ok", tagValue: "ok"),
            KMS.Tag(tagKey: "", tagValue: String(repeating: "v", count: 257)),
        ])
        #expect(violation(request)
            == "2 validation errors detected: Value at 'tags.2.member.tagKey' failed to satisfy constraint: "
            + "Member must have length greater than or equal to 1; Value at 'tags.2.member.tagValue' failed to "
            + "satisfy constraint: Member must have length less than or equal to 256")
        #expect(violation(KMS.CreateKeyRequest(tags: [KMS.Tag(tagKey: String(repeating: "t", count: 129), tagValue: "")]))
            == single("tags.1.member.tagKey", "Member must have length less than or equal to 128"))
        #expect(violation(KMS.UntagResourceRequest(keyId: "k", tagKeys: ["a", ""]))
            == single("tagKeys.2.member", "Member must have length greater than or equal to 1"))
    }

    @Test func policyCharactersAndPrincipals() {
        let policy = "{\r\n\t\"Version\": \"2012-10-17\", \"Sid\": \"Überprüfung\"\n}"
        #expect(violation(KMS.PutKeyPolicyRequest(keyId: "k", policy: policy)) == nil)
        #expect(violation(KMS.PutKeyPolicyRequest(keyId: "k", policy: "{\"Sid\": \"€\"}"))?
            .contains("at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern") == true)
        #expect(violation(KMS.GetKeyPolicyRequest(keyId: "k", policyName: "default")) == nil)
        #expect(violation(KMS.GetKeyPolicyRequest(keyId: "k", policyName: "not default"))?
            .contains("'policyName'") == true)
        #expect(violation(KMS.ListRetirableGrantsRequest(retiringPrincipal: "arn:aws:iam::111122223333:role/a+b=c,d.e@f")) == nil)
        #expect(violation(KMS.ListRetirableGrantsRequest(retiringPrincipal: "has space"))?
            .contains("'retiringPrincipal'") == true)
        #expect(violation(KMS.CreateKeyRequest(xksKeyId: "abc-DEF_1.2")) == nil)
        #expect(violation(KMS.CreateKeyRequest(xksKeyId: "abc/def"))?.contains("'xksKeyId'") == true)
        #expect(violation(KMS.CreateGrantRequest(keyId: "k", granteePrincipal: "p", operations: [.decrypt], name: "a b"))?
            .contains("Value 'a b' at 'name'") == true)
        #expect(violation(KMS.ListKeysRequest(marker: "ascii-marker")) == nil)
        #expect(violation(KMS.ListKeysRequest(marker: "€"))?.contains("'marker'") == true)
    }

    @Test func longValuesAreNotEchoed() throws {
        let long = String(repeating: "x", count: 300) + " "
        let message = try #require(violation(KMS.CreateGrantRequest(
            keyId: "k", granteePrincipal: long, operations: [.decrypt])))
        #expect(message.hasPrefix("2 validation errors detected: Value at 'granteePrincipal'"))
        #expect(!message.contains("xxxx"))
    }

    @Test func everyGeneratedPatternCompiles() {
        #expect(!KMSPatterns.all.isEmpty)
        for pattern in KMSPatterns.all {
            #expect(pattern.compiles, "\(pattern.source)")
        }
    }

    @Test func everyGeneratedPatternIsMatchedWithoutRegex() {
        for pattern in KMSPatterns.all {
            #expect(pattern.characterClass != nil, "\(pattern.source) falls back to Regex")
        }
    }

    /// The character-class scan answers as `Regex` does: for every generated pattern and the model's
    /// other one-class patterns, on every scalar up to U+017F and some beyond, alone and in strings.
    @Test(arguments: KMSPatterns.all.map(\.source) + [
        #"^[a-f0-9]+$"#, #"^[a-zA-Z0-9:/_\s.-]+$"#, #"^[A-Z2-7]+$"#, #"^[a-zA-Z0-9\/+=]+$"#, #"[\w]*"#, #"[-a\d]+"#,
    ])
    func characterClassAgreesWithRegex(source: String) throws {
        let pattern = KMSPattern(source)
        try #require(pattern.characterClass != nil)
        let scalars = (0 ... 0x17F).compactMap(Unicode.Scalar.init) + [0x2028, 0x20AC, 0xFEFF, 0x1F600].compactMap(Unicode.Scalar.init)
        var samples = ["", "abc", "alias/my-key_1", "a b", "{\r\n\t\"Sid\": \"Überprüfung\"}", "ab€", "AB27", "x\u{0}"]
        samples += scalars.map { String(Character($0)) }
        samples += scalars.map { "a" + String(Character($0)) + "0" }
        for sample in samples {
            #expect(pattern.matches(sample) == pattern.regexMatches(sample), "\(source) on \(sample.unicodeScalars.map(\.value))")
        }
    }

    @Test(arguments: [#"[^a]+"#, #"[a-z]{2}"#, #"^([a-z]+-){2,3}\d+$"#, #"[a-z]"#, #"[\p{L}]+"#, #"a[b]+"#, #"[z-a]+"#, #"[a-\w]+"#])
    func otherShapesFallBackToRegex(source: String) {
        #expect(CharacterClassPattern(source) == nil)
    }

    @Test func fallbackStillMatches() {
        let region = KMSPattern(#"^([a-z]+-){2,3}\d+$"#)
        #expect(region.characterClass == nil)
        #expect(region.matches("us-east-1"))
        #expect(!region.matches("us-east"))
    }
}
