import Foundation
import KMSWire

extension KeyServiceEngine {
    /// Handles one KMS JSON 1.1 request: decodes the body for its operation, runs it for the
    /// principal, encodes the response. The HTTP server and the CLI's embedded store both call this.
    /// - Parameters:
    ///   - operation: The operation (from `X-Amz-Target`).
    ///   - body: The JSON request body.
    ///   - principal: Who is calling (already authenticated).
    ///   - requestID: The request's ID for the audit log.
    /// - Returns: The JSON response body.
    /// - Throws: ``KMSError`` as AWS would answer.
    public func handle(
        _ operation: KMSOperation, body: Data, by principal: Principal, requestID: String? = nil
    ) async throws(KMSError) -> Data {
        let engine = self
        switch operation {
        case .createKey: return try await respond(body, KMS.CreateKeyRequest.self) { (request) async throws(KMSError) in try await engine.createKey(request, by: principal, requestID: requestID) }
        case .describeKey: return try await respond(body, KMS.DescribeKeyRequest.self) { (request) async throws(KMSError) in try await engine.describeKey(request, by: principal, requestID: requestID) }
        case .listKeys: return try await respond(body, KMS.ListKeysRequest.self) { (request) async throws(KMSError) in try await engine.listKeys(request, by: principal, requestID: requestID) }
        case .updateKeyDescription: return try await respondEmpty(body, KMS.UpdateKeyDescriptionRequest.self) { (request) async throws(KMSError) in try await engine.updateKeyDescription(request, by: principal, requestID: requestID) }
        case .enableKey: return try await respondEmpty(body, KMS.EnableKeyRequest.self) { (request) async throws(KMSError) in try await engine.enableKey(request, by: principal, requestID: requestID) }
        case .disableKey: return try await respondEmpty(body, KMS.DisableKeyRequest.self) { (request) async throws(KMSError) in try await engine.disableKey(request, by: principal, requestID: requestID) }
        case .scheduleKeyDeletion: return try await respond(body, KMS.ScheduleKeyDeletionRequest.self) { (request) async throws(KMSError) in try await engine.scheduleKeyDeletion(request, by: principal, requestID: requestID) }
        case .cancelKeyDeletion: return try await respond(body, KMS.CancelKeyDeletionRequest.self) { (request) async throws(KMSError) in try await engine.cancelKeyDeletion(request, by: principal, requestID: requestID) }
        case .createAlias: return try await respondEmpty(body, KMS.CreateAliasRequest.self) { (request) async throws(KMSError) in try await engine.createAlias(request, by: principal, requestID: requestID) }
        case .updateAlias: return try await respondEmpty(body, KMS.UpdateAliasRequest.self) { (request) async throws(KMSError) in try await engine.updateAlias(request, by: principal, requestID: requestID) }
        case .deleteAlias: return try await respondEmpty(body, KMS.DeleteAliasRequest.self) { (request) async throws(KMSError) in try await engine.deleteAlias(request, by: principal, requestID: requestID) }
        case .listAliases: return try await respond(body, KMS.ListAliasesRequest.self) { (request) async throws(KMSError) in try await engine.listAliases(request, by: principal, requestID: requestID) }
        case .encrypt: return try await respond(body, KMS.EncryptRequest.self) { (request) async throws(KMSError) in try await engine.encrypt(request, by: principal, requestID: requestID) }
        case .decrypt: return try await respond(body, KMS.DecryptRequest.self) { (request) async throws(KMSError) in try await engine.decrypt(request, by: principal, requestID: requestID) }
        case .reEncrypt: return try await respond(body, KMS.ReEncryptRequest.self) { (request) async throws(KMSError) in try await engine.reEncrypt(request, by: principal, requestID: requestID) }
        case .generateDataKey: return try await respond(body, KMS.GenerateDataKeyRequest.self) { (request) async throws(KMSError) in try await engine.generateDataKey(request, by: principal, requestID: requestID) }
        case .generateDataKeyWithoutPlaintext: return try await respond(body, KMS.GenerateDataKeyWithoutPlaintextRequest.self) { (request) async throws(KMSError) in try await engine.generateDataKeyWithoutPlaintext(request, by: principal, requestID: requestID) }
        case .generateRandom: return try await respond(body, KMS.GenerateRandomRequest.self) { (request) async throws(KMSError) in try await engine.generateRandom(request, by: principal, requestID: requestID) }
        case .enableKeyRotation: return try await respondEmpty(body, KMS.EnableKeyRotationRequest.self) { (request) async throws(KMSError) in try await engine.enableKeyRotation(request, by: principal, requestID: requestID) }
        case .disableKeyRotation: return try await respondEmpty(body, KMS.DisableKeyRotationRequest.self) { (request) async throws(KMSError) in try await engine.disableKeyRotation(request, by: principal, requestID: requestID) }
        case .getKeyRotationStatus: return try await respond(body, KMS.GetKeyRotationStatusRequest.self) { (request) async throws(KMSError) in try await engine.getKeyRotationStatus(request, by: principal, requestID: requestID) }
        case .rotateKeyOnDemand: return try await respond(body, KMS.RotateKeyOnDemandRequest.self) { (request) async throws(KMSError) in try await engine.rotateKeyOnDemand(request, by: principal, requestID: requestID) }
        case .listKeyRotations: return try await respond(body, KMS.ListKeyRotationsRequest.self) { (request) async throws(KMSError) in try await engine.listKeyRotations(request, by: principal, requestID: requestID) }
        case .getKeyPolicy: return try await respond(body, KMS.GetKeyPolicyRequest.self) { (request) async throws(KMSError) in try await engine.getKeyPolicy(request, by: principal, requestID: requestID) }
        case .putKeyPolicy: return try await respondEmpty(body, KMS.PutKeyPolicyRequest.self) { (request) async throws(KMSError) in try await engine.putKeyPolicy(request, by: principal, requestID: requestID) }
        case .listKeyPolicies: return try await respond(body, KMS.ListKeyPoliciesRequest.self) { (request) async throws(KMSError) in try await engine.listKeyPolicies(request, by: principal, requestID: requestID) }
        case .createGrant: return try await respond(body, KMS.CreateGrantRequest.self) { (request) async throws(KMSError) in try await engine.createGrant(request, by: principal, requestID: requestID) }
        case .listGrants: return try await respond(body, KMS.ListGrantsRequest.self) { (request) async throws(KMSError) in try await engine.listGrants(request, by: principal, requestID: requestID) }
        case .listRetirableGrants: return try await respond(body, KMS.ListRetirableGrantsRequest.self) { (request) async throws(KMSError) in try await engine.listRetirableGrants(request, by: principal, requestID: requestID) }
        case .retireGrant: return try await respondEmpty(body, KMS.RetireGrantRequest.self) { (request) async throws(KMSError) in try await engine.retireGrant(request, by: principal, requestID: requestID) }
        case .revokeGrant: return try await respondEmpty(body, KMS.RevokeGrantRequest.self) { (request) async throws(KMSError) in try await engine.revokeGrant(request, by: principal, requestID: requestID) }
        case .tagResource: return try await respondEmpty(body, KMS.TagResourceRequest.self) { (request) async throws(KMSError) in try await engine.tagResource(request, by: principal, requestID: requestID) }
        case .untagResource: return try await respondEmpty(body, KMS.UntagResourceRequest.self) { (request) async throws(KMSError) in try await engine.untagResource(request, by: principal, requestID: requestID) }
        case .listResourceTags: return try await respond(body, KMS.ListResourceTagsRequest.self) { (request) async throws(KMSError) in try await engine.listResourceTags(request, by: principal, requestID: requestID) }
        }
    }

    private func respond<Request: KMSRequest, Response: KMSResponse>(
        _ body: Data, _ type: Request.Type, _ call: (Request) async throws(KMSError) -> Response
    ) async throws(KMSError) -> Data {
        let request = try KMSJSON.decodeRequest(Request.self, from: body)
        return try KMSJSON.encodeResponse(try await call(request))
    }

    /// Operations with no output answer `{}`.
    private func respondEmpty<Request: KMSRequest>(
        _ body: Data, _ type: Request.Type, _ call: (Request) async throws(KMSError) -> Void
    ) async throws(KMSError) -> Data {
        let request = try KMSJSON.decodeRequest(Request.self, from: body)
        try await call(request)
        return Data("{}".utf8)
    }
}
