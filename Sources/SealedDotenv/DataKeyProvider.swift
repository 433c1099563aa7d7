public import EnvSealFormat
public import SodiumKit

/// Something that wraps and unwraps data keys: envseal's key server, its embedded store, AWS KMS,
/// moto. The sealed-file code talks to this protocol only and never knows which side answered.
///
/// Implementations report a refusal of the key service as its `KMSError` (KMSWire) and a failure
/// to reach it as `KMSTransportError` (KMSClient); ``SealedFile`` passes both through unchanged.
public protocol DataKeyProvider: Sendable {
    /// Makes a new 32-byte data key under a master key (GenerateDataKey).
    /// - Parameters:
    ///   - keyID: The master key: key ID, key ARN, alias name or alias ARN.
    ///   - context: The encryption context the wrapped copy is bound to.
    /// - Returns: The plaintext data key, its wrapped copy and the master key's ARN.
    func generateDataKey(keyID: String, context: EncryptionContext) async throws -> GeneratedDataKey

    /// Unwraps a data key (Decrypt).
    /// - Parameters:
    ///   - wrapped: The wrapped data key, as ``generateDataKey(keyID:context:)`` returned it.
    ///   - context: The context it was wrapped with.
    ///   - keyID: The master key the caller expects (key ID, key ARN, alias name or alias ARN),
    ///     or `nil`. KMS's Decrypt takes it as `KeyId` and fails with `IncorrectKeyException`
    ///     when the data key was wrapped under another key; an alias is resolved there.
    /// - Returns: The data key and the ARN of the master key that wrapped it.
    func unwrapDataKey(_ wrapped: [UInt8], context: EncryptionContext, keyID: String?) async throws -> UnwrappedDataKey

    /// Wraps an already wrapped data key again, under the newest version of a master key, without
    /// the plaintext leaving the key service (ReEncrypt).
    /// - Parameters:
    ///   - wrapped: The wrapped data key.
    ///   - context: Its context, kept for the new copy.
    ///   - destinationKeyID: The master key to wrap it under.
    /// - Returns: The new wrapped copy.
    func rewrapDataKey(_ wrapped: [UInt8], context: EncryptionContext, destinationKeyID: String) async throws -> [UInt8]

    /// Encrypts a value directly under a master key (Encrypt), as AWS's Lambda console helper does.
    /// - Parameters:
    ///   - plaintext: At most 4,096 bytes.
    ///   - keyID: The master key.
    ///   - context: The encryption context.
    /// - Returns: The ciphertext blob.
    func encrypt(_ plaintext: SecureBytes, keyID: String, context: EncryptionContext) async throws -> [UInt8]

    /// Decrypts a ciphertext blob made by ``encrypt(_:keyID:context:)`` (Decrypt).
    /// - Parameters:
    ///   - ciphertext: The ciphertext blob.
    ///   - context: The context it was made with.
    /// - Returns: The plaintext, in guarded memory.
    func decrypt(_ ciphertext: [UInt8], context: EncryptionContext) async throws -> SecureBytes

    /// Wraps an existing data key under a master key (Encrypt): another slot of a sealed file.
    /// - Parameters:
    ///   - dataKey: The file's data key.
    ///   - keyID: The master key.
    ///   - context: The encryption context the wrapped copy is bound to.
    /// - Returns: The wrapped copy and the master key's ARN.
    func wrapDataKey(_ dataKey: DataKey, keyID: String, context: EncryptionContext) async throws -> (wrapped: [UInt8], keyARN: String)
}

extension DataKeyProvider {
    /// Wraps with ``encrypt(_:keyID:context:)``; the ARN is `keyID` as given, since Encrypt's
    /// answer does not reach this form. A provider that can report the ARN implements this itself.
    public func wrapDataKey(_ dataKey: DataKey, keyID: String, context: EncryptionContext) async throws -> (wrapped: [UInt8], keyARN: String) {
        (try await encrypt(dataKey.secureBytes, keyID: keyID, context: context), keyID)
    }
}

/// A new data key: the plaintext for sealing now, the wrapped copy for the file.
public struct GeneratedDataKey: Sendable {
    /// The plaintext data key.
    public let dataKey: DataKey
    /// The key service's ciphertext of the data key.
    public let wrapped: [UInt8]
    /// The ARN of the master key that wrapped it.
    public let keyARN: String

    /// Creates the value.
    public init(dataKey: DataKey, wrapped: [UInt8], keyARN: String) {
        self.dataKey = dataKey
        self.wrapped = wrapped
        self.keyARN = keyARN
    }
}

/// An unwrapped data key and the master key it came from.
public struct UnwrappedDataKey: Sendable {
    /// The plaintext data key.
    public let dataKey: DataKey
    /// The ARN of the master key that wrapped it.
    public let keyARN: String

    /// Creates the value.
    public init(dataKey: DataKey, keyARN: String) {
        self.dataKey = dataKey
        self.keyARN = keyARN
    }
}
