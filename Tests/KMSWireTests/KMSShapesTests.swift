import Foundation
import KMSWire
import Testing

/// Request bodies below are byte-for-byte what botocore's JSON serializer produces for these
/// parameters (boto3 and the aws CLI send the same), so they exercise the real wire format.
@Suite("KMS shapes on the wire")
struct KMSShapesTests {
    // MARK: Requests as boto3 sends them

    @Test func encryptRequestWithEncryptionContext() throws {
        let body = #"""
        {"KeyId": "alias/envseal-prod", "Plaintext": "REFUQUJBU0VfVVJMPXBvc3RncmVzOi8vdTpwQGRiL2FwcA==", \#
        "EncryptionContext": {"envseal:app": "billing", "envseal:env": "prod"}, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        """#
        let request = try KMSJSON.decodeRequest(KMS.EncryptRequest.self, from: Data(body.utf8))
        #expect(request.keyId == "alias/envseal-prod")
        #expect(request.plaintext == Data("DATABASE_URL=postgres://u:p@db/app".utf8))
        #expect(request.encryptionContext == ["envseal:app": "billing", "envseal:env": "prod"])
        #expect(request.encryptionAlgorithm == .symmetricDefault)
        #expect(request.grantTokens == nil)
        #expect(request.dryRun == nil)
    }

    @Test func createKeyRequestWithPolicyAndTags() throws {
        let body = #"""
        {"Policy": "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Sid\": \"Enable IAM User Permissions\", \#
        \"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"arn:aws:iam::111122223333:root\"}, \"Action\": \"kms:*\", \#
        \"Resource\": \"*\"}]}", "Description": "envseal production key", "KeyUsage": "ENCRYPT_DECRYPT", \#
        "KeySpec": "SYMMETRIC_DEFAULT", "Origin": "AWS_KMS", "BypassPolicyLockoutSafetyCheck": false, \#
        "Tags": [{"TagKey": "project", "TagValue": "envseal"}, {"TagKey": "env", "TagValue": ""}], "MultiRegion": false}
        """#
        let request = try KMSJSON.decodeRequest(KMS.CreateKeyRequest.self, from: Data(body.utf8))
        #expect(request.policy?.hasPrefix(#"{"Version": "2012-10-17""#) == true)
        #expect(request.description == "envseal production key")
        #expect(request.keyUsage == .encryptDecrypt)
        #expect(request.keySpec == .symmetricDefault)
        #expect(request.origin == .awsKms)
        #expect(request.bypassPolicyLockoutSafetyCheck == false)
        #expect(request.multiRegion == false)
        #expect(request.tags == [
            KMS.Tag(tagKey: "project", tagValue: "envseal"),
            KMS.Tag(tagKey: "env", tagValue: ""),
        ])
        #expect(request.customKeyStoreId == nil)
        #expect(request.xksKeyId == nil)
    }

    @Test func createGrantRequestWithConstraints() throws {
        let body = #"""
        {"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "GranteePrincipal": "arn:aws:iam::111122223333:role/billing-lambda", \#
        "RetiringPrincipal": "arn:aws:iam::111122223333:role/ops", "Operations": ["Decrypt", "GenerateDataKey"], \#
        "Constraints": {"EncryptionContextSubset": {"envseal:app": "billing"}}, "GrantTokens": ["tok-1"], \#
        "Name": "billing-lambda-decrypt"}
        """#
        let request = try KMSJSON.decodeRequest(KMS.CreateGrantRequest.self, from: Data(body.utf8))
        #expect(request.keyId == "1234abcd-12ab-34cd-56ef-1234567890ab")
        #expect(request.granteePrincipal == "arn:aws:iam::111122223333:role/billing-lambda")
        #expect(request.retiringPrincipal == "arn:aws:iam::111122223333:role/ops")
        #expect(request.operations == [.decrypt, .generateDataKey])
        #expect(request.constraints == KMS.GrantConstraints(encryptionContextSubset: ["envseal:app": "billing"]))
        #expect(request.constraints?.encryptionContextEquals == nil)
        #expect(request.grantTokens == ["tok-1"])
        #expect(request.name == "billing-lambda-decrypt")
    }

    @Test func decryptAndGenerateDataKeyRequests() throws {
        let decrypt = try KMSJSON.decodeRequest(
            KMS.DecryptRequest.self,
            from: Data(#"""
            {"CiphertextBlob": "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYn", \#
            "EncryptionContext": {"envseal:app": "billing"}, "KeyId": "alias/envseal-prod"}
            """#.utf8))
        #expect(decrypt.ciphertextBlob == Data(1...39))
        #expect(decrypt.keyId == "alias/envseal-prod")

        let generate = try KMSJSON.decodeRequest(
            KMS.GenerateDataKeyRequest.self,
            from: Data(#"{"KeyId": "alias/envseal-prod", "KeySpec": "AES_256", "EncryptionContext": {"aws-crypto-public-key": "AxYz"}}"#.utf8))
        #expect(generate.keySpec == .aes256)
        #expect(generate.numberOfBytes == nil)
        #expect(generate.encryptionContext?["aws-crypto-public-key"] == "AxYz")
    }

    @Test func decodeRequestDispatchesOnOperation() throws {
        let request = try KMSJSON.decodeRequest(
            for: .scheduleKeyDeletion, from: Data(#"{"KeyId": "k", "PendingWindowInDays": 7}"#.utf8))
        let schedule = try #require(request as? KMS.ScheduleKeyDeletionRequest)
        #expect(schedule.pendingWindowInDays == 7)
    }

    @Test func unknownMembersAreIgnoredAndEmptyBodyIsAnEmptyObject() throws {
        let listKeys = try KMSJSON.decodeRequest(
            KMS.ListKeysRequest.self, from: Data(#"{"Limit": 5, "SomethingNew": {"x": [1, 2]}}"#.utf8))
        #expect(listKeys.limit == 5)
        #expect(try KMSJSON.decodeRequest(KMS.ListKeysRequest.self, from: Data()) == KMS.ListKeysRequest())
        #expect(try KMSJSON.decodeRequest(KMS.ListKeysRequest.self, from: Data(" \n".utf8)) == KMS.ListKeysRequest())
    }

    @Test func explicitNullForOptionalMemberIsAbsent() throws {
        let request = try KMSJSON.decodeRequest(
            KMS.ListAliasesRequest.self, from: Data(#"{"KeyId": null, "Limit": null, "Marker": null}"#.utf8))
        #expect(request == KMS.ListAliasesRequest())
    }

    // MARK: Decoding failures as AWS reports them

    @Test func missingRequiredMemberIsAValidationException() {
        #expect(throws: KMSError(.validation,
                                 "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")) {
            try KMSJSON.decodeRequest(KMS.EncryptRequest.self, from: Data(#"{"Plaintext": "aGk="}"#.utf8))
        }
        #expect(throws: KMSError(.validation,
                                 "1 validation error detected: Value null at 'plaintext' failed to satisfy constraint: Member must not be null")) {
            try KMSJSON.decodeRequest(KMS.EncryptRequest.self, from: Data(#"{"KeyId": "k", "Plaintext": null}"#.utf8))
        }
        #expect(throws: KMSError(.validation,
                                 "1 validation error detected: Value null at 'tags.2.member.tagValue' failed to satisfy constraint: Member must not be null")) {
            try KMSJSON.decodeRequest(
                KMS.TagResourceRequest.self,
                from: Data(#"{"KeyId": "k", "Tags": [{"TagKey": "a", "TagValue": "b"}, {"TagKey": "c"}]}"#.utf8))
        }
    }

    @Test func malformedBodiesAreSerializationExceptions() throws {
        func failure(_ body: String) -> KMSError? {
            do {
                _ = try KMSJSON.decodeRequest(KMS.DecryptRequest.self, from: Data(body.utf8))
                return nil
            } catch {
                return error
            }
        }
        let notJSON = try #require(failure("{KeyId: 1"))
        #expect(notJSON.type == .serialization)
        #expect(notJSON.httpStatus == 400)
        #expect(failure("[1, 2]")?.type == .serialization)
        #expect(failure("null")?.type == .serialization)

        let wrongType = failure(#"{"CiphertextBlob": 12}"#)
        #expect(wrongType == KMSError(.serialization, "Unexpected JSON value at 'ciphertextBlob'."))

        // Invalid base64: named, never echoed.
        let badBase64 = try #require(failure(#"{"CiphertextBlob": "not base64 SECRET!!"}"#))
        #expect(badBase64.type == .serialization)
        #expect(badBase64.message.contains("ciphertextBlob"))
        #expect(!badBase64.message.contains("SECRET"))

        let wrongNested = try #require(failure(#"{"CiphertextBlob": "AQID", "EncryptionContext": {"a": 1}}"#))
        #expect(wrongNested.type == .serialization)
        #expect(wrongNested.message.contains("encryptionContext"))
    }

    // The generated coding reads enums as their wire strings and string maps key by key: the
    // same values, absences and errors (at the same member) as Codable synthesis gave.
    @Test func stringMapsAndEnumsDecodeAsSynthesisDid() throws {
        func decode(_ body: String) throws(KMSError) -> KMS.DecryptRequest {
            try KMSJSON.decodeRequest(KMS.DecryptRequest.self, from: Data(body.utf8))
        }
        let full = try decode(#"{"CiphertextBlob": "AQID", "EncryptionContext": {"a": "1", "b": ""}, "#
            + #""EncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DryRun": true, "GrantTokens": ["t"]}"#)
        #expect(full == KMS.DecryptRequest(
            ciphertextBlob: Data([1, 2, 3]), encryptionContext: ["a": "1", "b": ""], grantTokens: ["t"],
            encryptionAlgorithm: .symmetricDefault, dryRun: true))
        #expect(try decode(#"{"CiphertextBlob": "AQID", "EncryptionContext": {}}"#).encryptionContext == [:])
        #expect(try decode(#"{"CiphertextBlob": "AQID", "EncryptionContext": null}"#).encryptionContext == nil)
        #expect(try decode(#"{"CiphertextBlob": "AQID", "EncryptionAlgorithm": null}"#).encryptionAlgorithm == nil)
        for body in [#"{"EncryptionContext": "a=1"}"#, #"{"EncryptionContext": [["a", "1"]]}"#, #"{"EncryptionContext": 1}"#] {
            #expect(throws: KMSError(.serialization, "Unexpected JSON value at 'encryptionContext'.")) { try decode(body) }
        }
        for body in [#"{"EncryptionAlgorithm": 1}"#, #"{"EncryptionAlgorithm": {"a": "b"}}"#] {
            #expect(throws: KMSError(.serialization, "Unexpected JSON value at 'encryptionAlgorithm'.")) { try decode(body) }
        }
        #expect(throws: KMSError(.validation, "1 validation error detected: Value null at 'encryptionContext.bad' "
                                 + "failed to satisfy constraint: Member must not be null")) {
            try decode(#"{"EncryptionContext": {"ok": "1", "bad": null}}"#)
        }

        // Encoding writes what it read; an unknown enum value goes out as it came in.
        let request = KMS.DecryptRequest(encryptionContext: ["z": "1", "a": "2"], encryptionAlgorithm: .init(rawValue: "NEW_ALGO"))
        #expect(String(decoding: try KMSJSON.encoder().encode(request), as: UTF8.self)
            == #"{"EncryptionAlgorithm":"NEW_ALGO","EncryptionContext":{"a":"2","z":"1"}}"#)
        #expect(try decode(String(decoding: try KMSJSON.encoder().encode(full), as: UTF8.self)) == full)
    }

    // MARK: Responses

    private func json(_ value: some KMSResponse) throws -> String {
        String(decoding: try KMSJSON.encodeResponse(value), as: UTF8.self)
    }

    @Test func encryptResponseKeysAndBase64() throws {
        let response = KMS.EncryptResponse(
            ciphertextBlob: Data([0x01, 0x02, 0x03, 0xFF]),
            keyId: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            encryptionAlgorithm: .symmetricDefault)
        #expect(try json(response) == #"""
        {"CiphertextBlob":"AQID/w==","EncryptionAlgorithm":"SYMMETRIC_DEFAULT",\#
        "KeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
        """#)
    }

    @Test func nilMembersAreOmitted() throws {
        #expect(try json(KMS.EncryptResponse(keyId: "k")) == #"{"KeyId":"k"}"#)
        #expect(try json(KMS.ListKeysResponse()) == "{}")
        #expect(try json(KMSEmptyResponse()) == "{}")
        #expect(try json(KMS.GenerateDataKeyResponse(ciphertextBlob: Data([1]), plaintext: Data([2]), keyId: "k"))
            == #"{"CiphertextBlob":"AQ==","KeyId":"k","Plaintext":"Ag=="}"#)
    }

    @Test func describeKeyResponseTimestampsAreEpochSeconds() throws {
        let metadata = KMS.KeyMetadata(
            awsAccountId: "111122223333",
            keyId: "1234abcd-12ab-34cd-56ef-1234567890ab",
            arn: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            creationDate: Date(timeIntervalSince1970: 1_700_000_000),
            enabled: true,
            description: "",
            keyUsage: .encryptDecrypt,
            keyState: .pendingDeletion,
            deletionDate: Date(timeIntervalSince1970: 1_700_604_800.5),
            origin: .awsKms,
            keyManager: .customer,
            customerMasterKeySpec: .symmetricDefault,
            keySpec: .symmetricDefault,
            encryptionAlgorithms: [.symmetricDefault],
            multiRegion: false,
            pendingDeletionWindowInDays: 7)
        let body = try KMSJSON.encodeResponse(KMS.DescribeKeyResponse(keyMetadata: metadata))
        #expect(String(decoding: body, as: UTF8.self) == #"""
        {"KeyMetadata":{"AWSAccountId":"111122223333","Arn":"arn:aws:kms:us-east-1:111122223333:key/\#
        1234abcd-12ab-34cd-56ef-1234567890ab","CreationDate":1700000000,"CustomerMasterKeySpec":"SYMMETRIC_DEFAULT",\#
        "DeletionDate":1700604800.5,"Description":"","Enabled":true,"EncryptionAlgorithms":["SYMMETRIC_DEFAULT"],\#
        "KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","KeyManager":"CUSTOMER","KeySpec":"SYMMETRIC_DEFAULT",\#
        "KeyState":"PendingDeletion","KeyUsage":"ENCRYPT_DECRYPT","MultiRegion":false,"Origin":"AWS_KMS",\#
        "PendingDeletionWindowInDays":7}}
        """#)
        let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        let decodedMetadata = try #require(object["KeyMetadata"] as? [String: Any])
        #expect(decodedMetadata["CreationDate"] is NSNumber)
        #expect(try KMSJSON.decodeResponse(KMS.DescribeKeyResponse.self, from: body).keyMetadata == metadata)
    }

    @Test func awsStyleResponseDecodes() throws {
        // A DescribeKey reply in the form AWS sends (exponent timestamps, members this server omits).
        let body = #"""
        {"KeyMetadata":{"AWSAccountId":"111122223333","Arn":"arn:aws:kms:us-west-2:111122223333:key/\#
        1234abcd-12ab-34cd-56ef-1234567890ab","CreationDate":1.499988169234E9,"CurrentKeyMaterialId":"abc",\#
        "CustomerMasterKeySpec":"SYMMETRIC_DEFAULT","Description":"","Enabled":true,\#
        "EncryptionAlgorithms":["SYMMETRIC_DEFAULT"],"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab",\#
        "KeyManager":"CUSTOMER","KeySpec":"SYMMETRIC_DEFAULT","KeyState":"Enabled","KeyUsage":"ENCRYPT_DECRYPT",\#
        "MultiRegion":false,"Origin":"AWS_KMS"}}
        """#
        let response = try KMSJSON.decodeResponse(KMS.DescribeKeyResponse.self, from: Data(body.utf8))
        let metadata = try #require(response.keyMetadata)
        #expect(abs(metadata.creationDate!.timeIntervalSince1970 - 1_499_988_169.234) < 0.001)
        #expect(metadata.keyState == .enabled)
        #expect(metadata.currentKeyMaterialId == "abc")
    }

    @Test func listResponsesRoundTrip() throws {
        let grants = KMS.ListGrantsResponse(
            grants: [KMS.GrantListEntry(
                keyId: "k", grantId: "g", name: "n", creationDate: Date(timeIntervalSince1970: 1),
                granteePrincipal: "p", operations: [.decrypt, .reEncryptFrom],
                constraints: KMS.GrantConstraints(encryptionContextEquals: ["a": "b"]))],
            nextMarker: "m", truncated: true)
        let body = try KMSJSON.encodeResponse(grants)
        #expect(try KMSJSON.decodeResponse(KMS.ListGrantsResponse.self, from: body) == grants)
        #expect(String(decoding: body, as: UTF8.self).contains(
            #""Constraints":{"EncryptionContextEquals":{"a":"b"}},"CreationDate":1,"GrantId":"g""#))
        #expect(try KMSJSON.decodeResponse(KMSEmptyResponse.self, from: Data()) == KMSEmptyResponse())
    }

    // MARK: Open enums

    @Test func unknownEnumValueDecodesThenFailsValidation() throws {
        let body = Data(#"{"KeyId": "k", "KeySpec": "AES_512"}"#.utf8)
        let request = try KMSJSON.decoder().decode(KMS.GenerateDataKeyRequest.self, from: body)
        #expect(request.keySpec == KMS.DataKeySpec(rawValue: "AES_512"))
        #expect(request.keySpec?.isKnown == false)
        let expected = KMSError(
            .validation,
            "1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint: "
                + "Member must satisfy enum value set: [AES_256, AES_128]")
        #expect(throws: expected) { try request.validate() }
        #expect(throws: expected) { try KMSJSON.decodeRequest(KMS.GenerateDataKeyRequest.self, from: body) }
    }

    @Test func knownEnumValues() {
        #expect(KMS.DataKeySpec.knownValues == [.aes256, .aes128])
        #expect(KMS.KeySpec.symmetricDefault.rawValue == "SYMMETRIC_DEFAULT")
        #expect(KMS.KeySpec.symmetricDefault.isKnown)
        #expect(KMS.KeyState.pendingDeletion.rawValue == "PendingDeletion")
        #expect(KMS.GrantOperation.generateDataKeyWithoutPlaintext.rawValue == "GenerateDataKeyWithoutPlaintext")
        #expect(KMS.EncryptionAlgorithmSpec.rsaesOaepSha256.description == "RSAES_OAEP_SHA_256")
        #expect(Set(KMS.KeyUsageType.knownValues).count == KMS.KeyUsageType.knownValues.count)
    }
}
