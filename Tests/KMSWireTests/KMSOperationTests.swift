import Foundation
import KMSWire
import Testing

@Suite("KMS operations")
struct KMSOperationTests {
    static let names = [
        "CreateKey", "DescribeKey", "ListKeys", "UpdateKeyDescription", "EnableKey", "DisableKey",
        "ScheduleKeyDeletion", "CancelKeyDeletion", "CreateAlias", "UpdateAlias", "DeleteAlias", "ListAliases",
        "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom",
        "EnableKeyRotation", "DisableKeyRotation", "GetKeyRotationStatus", "RotateKeyOnDemand", "ListKeyRotations",
        "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies", "CreateGrant", "ListGrants", "ListRetirableGrants",
        "RetireGrant", "RevokeGrant", "TagResource", "UntagResource", "ListResourceTags", "GenerateMac", "VerifyMac",
        "Sign", "Verify", "GetPublicKey",
        "GetParametersForImport", "ImportKeyMaterial", "DeleteImportedKeyMaterial",
    ]

    @Test func everyOperationIsCovered() {
        #expect(KMSOperation.allCases.map(\.name) == Self.names)
    }

    @Test(arguments: KMSOperation.allCases)
    func targetAndShapes(operation: KMSOperation) {
        #expect(operation.target == "TrentService.\(operation.name)")
        #expect(KMSOperation(target: operation.target) == operation)
        #expect(operation.requestType.operation == operation)
        #expect(String(describing: operation.requestType) == "\(operation.name)Request")
        let response = String(describing: operation.responseType)
        #expect(response == "\(operation.name)Response" || response == "KMSEmptyResponse"
                || (operation == .listRetirableGrants && response == "ListGrantsResponse"))
        #expect(!operation.modeledErrors.isEmpty)
        #expect(operation.modeledErrors.allSatisfy { $0.isModeled })
    }

    @Test func outputlessOperations() {
        let empty = KMSOperation.allCases.filter { $0.responseType == KMSEmptyResponse.self }
        #expect(Set(empty) == [.updateKeyDescription, .enableKey, .disableKey, .createAlias, .updateAlias,
                               .deleteAlias, .enableKeyRotation, .disableKeyRotation, .putKeyPolicy,
                               .retireGrant, .revokeGrant, .tagResource, .untagResource])
        #expect(KMS.EnableKeyRequest.Response.self == KMSEmptyResponse.self)
        #expect(KMS.EncryptRequest.Response.self == KMS.EncryptResponse.self)
    }

    @Test func unknownTargets() {
        #expect(KMSOperation(target: "TrentService.DeriveSharedSecret") == nil)
        #expect(KMSOperation(target: "Encrypt") == nil)
        #expect(KMSOperation(target: "DynamoDB_20120810.Encrypt") == nil)
        #expect(KMSOperation(target: "TrentService.encrypt") == nil)
        #expect(KMSJSON.contentType == "application/x-amz-json-1.1")
    }

    /// `{}` is either a complete request or a ValidationException about a missing member; never a
    /// serialization error or a crash.
    @Test(arguments: KMSOperation.allCases)
    func emptyObjectBody(operation: KMSOperation) {
        do {
            _ = try KMSJSON.decodeRequest(for: operation, from: Data("{}".utf8))
        } catch {
            #expect(error.type == .validation)
            #expect(error.message.hasSuffix("failed to satisfy constraint: Member must not be null"))
        }
    }
}
