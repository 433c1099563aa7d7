package import Foundation

/// A wrapping key pair that GetParametersForImport made for one key: the RSA private key that
/// opens the material ImportKeyMaterial brings, kept (wrapped under the root key) until its
/// import token expires, so that any server on the store can finish the import.
package struct WrappingKeyRecord: Sendable, Codable, Equatable {
    /// Its id, which the import token names.
    package var id: UUID
    /// The key it imports into.
    package var keyID: UUID
    /// AWS's WrappingAlgorithm (`RSAES_OAEP_SHA_256`, `RSAES_OAEP_SHA_1`).
    package var algorithm: String
    /// AWS's WrappingKeySpec (`RSA_2048`, `RSA_3072`, `RSA_4096`).
    package var spec: String
    /// The private key (DER), wrapped under the root key.
    package var wrappedPrivateKey: [UInt8]
    package var createdAt: Date
    /// When it and its import token stop being accepted (24 hours after it was made).
    package var validTo: Date

    package init(id: UUID, keyID: UUID, algorithm: String, spec: String, wrappedPrivateKey: [UInt8], createdAt: Date, validTo: Date) {
        self.id = id
        self.keyID = keyID
        self.algorithm = algorithm
        self.spec = spec
        self.wrappedPrivateKey = wrappedPrivateKey
        self.createdAt = createdAt
        self.validTo = validTo
    }
}
