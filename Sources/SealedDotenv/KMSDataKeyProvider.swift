package import EnvSealFormat
import Foundation
package import KMSClient
import KMSWire
package import SodiumKit

/// A ``DataKeyProvider`` that speaks the KMS API through a ``KMSClient``: to envseal's server,
/// AWS KMS or moto over HTTP, or to the embedded store in-process.
///
/// ```swift
/// let transport = try HTTPKMSTransport(configuration: .resolve())
/// let provider = KMSDataKeyProvider(client: KMSClient(transport: transport))
/// ```
package struct KMSDataKeyProvider: DataKeyProvider {
    /// The client every call goes through.
    package let client: KMSClient

    /// Creates a provider.
    /// - Parameter client: The KMS client.
    package init(client: KMSClient) {
        self.client = client
    }

    package func generateDataKey(keyID: String, context: EncryptionContext) async throws -> GeneratedDataKey {
        let response = try await client.call(KMS.GenerateDataKeyRequest(
            keyId: keyID, encryptionContext: context.wireValue, keySpec: .aes256))
        guard let wrapped = response.ciphertextBlob, let keyARN = response.keyId else {
            throw KMSError(.serialization, "GenerateDataKey's response lacks CiphertextBlob or KeyId.")
        }
        return GeneratedDataKey(dataKey: try Self.dataKey(response.plaintext, operation: "GenerateDataKey"),
                                wrapped: Array(wrapped), keyARN: keyARN)
    }

    package func unwrapDataKey(_ wrapped: [UInt8], context: EncryptionContext, keyID: String?) async throws -> UnwrappedDataKey {
        let response = try await client.call(KMS.DecryptRequest(
            ciphertextBlob: Data(wrapped), encryptionContext: context.wireValue, keyId: keyID))
        guard let keyARN = response.keyId else {
            throw KMSError(.serialization, "Decrypt's response lacks KeyId.")
        }
        return UnwrappedDataKey(dataKey: try Self.dataKey(response.plaintext, operation: "Decrypt"), keyARN: keyARN)
    }

    package func rewrapDataKey(_ wrapped: [UInt8], context: EncryptionContext, destinationKeyID: String) async throws -> [UInt8] {
        let response = try await client.call(KMS.ReEncryptRequest(
            ciphertextBlob: Data(wrapped), sourceEncryptionContext: context.wireValue,
            destinationKeyId: destinationKeyID, destinationEncryptionContext: context.wireValue))
        guard let blob = response.ciphertextBlob else {
            throw KMSError(.serialization, "ReEncrypt's response lacks CiphertextBlob.")
        }
        return Array(blob)
    }

    package func encrypt(_ plaintext: SecureBytes, keyID: String, context: EncryptionContext) async throws -> [UInt8] {
        let request = plaintext.withUnsafeBytes { bytes in
            KMS.EncryptRequest(keyId: keyID, plaintext: Data(bytes), encryptionContext: context.wireValue)
        }
        let response = try await client.call(request)
        guard let blob = response.ciphertextBlob else {
            throw KMSError(.serialization, "Encrypt's response lacks CiphertextBlob.")
        }
        return Array(blob)
    }

    package func wrapDataKey(_ dataKey: DataKey, keyID: String, context: EncryptionContext) async throws -> (wrapped: [UInt8], keyARN: String) {
        let request = dataKey.secureBytes.withUnsafeBytes { bytes in
            KMS.EncryptRequest(keyId: keyID, plaintext: Data(bytes), encryptionContext: context.wireValue)
        }
        let response = try await client.call(request)
        guard let blob = response.ciphertextBlob, let keyARN = response.keyId else {
            throw KMSError(.serialization, "Encrypt's response lacks CiphertextBlob or KeyId.")
        }
        return (Array(blob), keyARN)
    }

    package func decrypt(_ ciphertext: [UInt8], context: EncryptionContext) async throws -> SecureBytes {
        let response = try await client.call(KMS.DecryptRequest(
            ciphertextBlob: Data(ciphertext), encryptionContext: context.wireValue))
        var plaintext = response.plaintext ?? Data()
        defer { plaintext.resetBytes(in: 0..<plaintext.count) }
        return try SecureBytes(copying: plaintext)
    }

    /// Moves a plaintext data key from the response into guarded memory and zeroes the copy the
    /// response held (JSON decoding leaves other transient copies that cannot be reached).
    private static func dataKey(_ plaintext: Data?, operation: String) throws -> DataKey {
        guard var plaintext else {
            throw KMSError(.serialization, "\(operation)'s response lacks Plaintext.")
        }
        defer { plaintext.resetBytes(in: 0..<plaintext.count) }
        guard plaintext.count == SymmetricKeyLength.bytes else {
            throw KMSError(.serialization, "\(operation) returned a \(plaintext.count)-byte data key, not \(SymmetricKeyLength.bytes).")
        }
        return try DataKey(secureBytes: SecureBytes(copying: plaintext))
    }
}

extension EncryptionContext {
    /// The context as KMS's `EncryptionContext` member: absent when empty.
    var wireValue: [String: String]? { isEmpty ? nil : dictionary }
}
