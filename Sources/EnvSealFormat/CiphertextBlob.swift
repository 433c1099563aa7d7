package import Foundation
package import SodiumKit

/// The key service's ciphertext (format version 1).
///
/// ```
/// offset  size  field
/// 0       1     version: 0xE1 (high nibble 0xE marks envseal, low nibble the version)
/// 1       16    key id: the master key's UUID, binary
/// 17      4     key version: u32 big-endian, 1 for the first material
/// 21      24    nonce: random, for XChaCha20-Poly1305
/// 45      n+16  XChaCha20-Poly1305 ciphertext and tag
/// ```
///
/// The associated data is the first 21 bytes (version, key id, key version) followed by the
/// canonical encryption context, so a blob cannot be moved to another key or version, or opened
/// under another context, without failing authentication. A 32-byte data key seals to 93 bytes.
package struct CiphertextBlob: Sendable, Equatable {
    /// The version byte of this layout.
    package static let version: UInt8 = 0xE1
    /// Bytes before the AEAD output.
    package static let headerByteCount = 45
    /// Bytes added to a plaintext: the header and the 16-byte tag.
    package static let overhead = headerByteCount + XChaCha20Poly1305.tagByteCount
    /// The largest plaintext a blob may carry: 4,096 bytes, as AWS KMS allows.
    package static let maxPlaintextByteCount = 4096

    /// The master key's id.
    package let keyID: UUID
    /// The master key version whose material sealed the plaintext (1 or more).
    package let keyVersion: UInt32
    package let nonce: Nonce
    /// The ciphertext followed by the tag.
    package let sealed: [UInt8]

    /// Parses a blob without opening it.
    /// - Parameter bytes: The blob.
    /// - Throws: ``FormatError`` for an unknown version, a truncated or oversized blob, or a
    ///   key version of 0. Never traps.
    package init(parsing bytes: some Collection<UInt8>) throws(FormatError) {
        var reader = ByteReader(bytes)
        let version = try reader.u8("version")
        guard version == Self.version else { throw FormatError(.unknownVersion(version)) }
        let id = try reader.slice(16, "key id")
        let i = id.startIndex
        keyID = UUID(uuid: (id[i], id[i + 1], id[i + 2], id[i + 3], id[i + 4], id[i + 5], id[i + 6], id[i + 7],
                            id[i + 8], id[i + 9], id[i + 10], id[i + 11], id[i + 12], id[i + 13], id[i + 14], id[i + 15]))
        keyVersion = try reader.u32("key version")
        guard keyVersion > 0 else { throw FormatError(.invalidField(field: "key version", reason: "0 is not a version")) }
        guard let nonce = try? Nonce(bytes: try reader.slice(Nonce.byteCount, "nonce")) else {
            throw FormatError(.truncated(field: "nonce"))
        }
        self.nonce = nonce
        guard reader.remaining >= XChaCha20Poly1305.tagByteCount else { throw FormatError(.truncated(field: "ciphertext")) }
        guard reader.remaining <= Self.maxPlaintextByteCount + XChaCha20Poly1305.tagByteCount else {
            throw FormatError(.invalidField(field: "ciphertext", reason: "longer than a 4096-byte plaintext allows"))
        }
        sealed = reader.rest()
    }

    private init(keyID: UUID, keyVersion: UInt32, nonce: Nonce, sealed: [UInt8]) {
        self.keyID = keyID
        self.keyVersion = keyVersion
        self.nonce = nonce
        self.sealed = sealed
    }

    /// The blob's bytes.
    package var bytes: [UInt8] { headerPrefix(keyID: keyID, keyVersion: keyVersion) + nonce.bytes + sealed }

    /// Seals a plaintext under a master key version.
    /// - Parameters:
    ///   - plaintext: 0 to 4,096 bytes (the key service requires at least 1).
    ///   - key: The key version's material.
    ///   - keyID: The master key's id.
    ///   - keyVersion: The version number of `key` (1 or more).
    ///   - context: The encryption context to bind.
    ///   - nonce: A fresh random nonce unless a test vector fixes one.
    /// - Returns: The blob.
    /// - Throws: ``FormatError`` for a plaintext over 4,096 bytes or key version 0.
    package static func seal(
        _ plaintext: SecureBytes, key: KeyMaterial, keyID: UUID, keyVersion: UInt32,
        context: EncryptionContext, nonce: Nonce = .random()
    ) throws(FormatError) -> CiphertextBlob {
        try plaintext.withUnsafeBytes { (bytes) throws(FormatError) in
            try seal(bytes, key: key, keyID: keyID, keyVersion: keyVersion, context: context, nonce: nonce)
        }
    }

    /// Seals plaintext bytes that are already in ordinary memory (a request body).
    /// - Throws: ``FormatError`` for a plaintext over 4,096 bytes or key version 0.
    package static func seal(
        _ plaintext: UnsafeRawBufferPointer, key: KeyMaterial, keyID: UUID, keyVersion: UInt32,
        context: EncryptionContext, nonce: Nonce = .random()
    ) throws(FormatError) -> CiphertextBlob {
        guard plaintext.count <= maxPlaintextByteCount else {
            throw FormatError(.invalidField(field: "plaintext", reason: "\(plaintext.count) bytes is more than \(maxPlaintextByteCount)"))
        }
        guard keyVersion > 0 else { throw FormatError(.invalidField(field: "key version", reason: "0 is not a version")) }
        let aad = associatedData(keyID: keyID, keyVersion: keyVersion, context: context)
        do {
            let sealed = try XChaCha20Poly1305.seal(plaintext, key: key, nonce: nonce, associatedData: aad)
            return CiphertextBlob(keyID: keyID, keyVersion: keyVersion, nonce: nonce, sealed: sealed)
        } catch {
            throw FormatError(.invalidField(field: "plaintext", reason: error.description))
        }
    }

    /// Opens the blob with the material of the key version it names.
    /// - Parameters:
    ///   - key: The material of ``keyVersion`` of ``keyID``.
    ///   - context: The encryption context it was sealed with, exactly.
    /// - Returns: The plaintext, in guarded memory.
    /// - Throws: ``FormatError`` `.authenticationFailed` for a wrong key, a different context
    ///   or any changed byte.
    package func open(key: KeyMaterial, context: EncryptionContext) throws(FormatError) -> SecureBytes {
        do {
            return try XChaCha20Poly1305.open(sealed, key: key, nonce: nonce, associatedData: associatedData(context))
        } catch {
            throw FormatError(.authenticationFailed(what: "ciphertext"))
        }
    }

    /// Opens the blob into ordinary memory, for plaintext that leaves the process at once (a
    /// response on the wire), where a guarded copy would protect nothing.
    /// - Throws: ``FormatError`` `.authenticationFailed` as ``open(key:context:)``.
    package func openForTransfer(key: KeyMaterial, context: EncryptionContext) throws(FormatError) -> Data {
        var output = Data(count: sealed.count - XChaCha20Poly1305.tagByteCount)
        let aad = associatedData(context)
        let result: Result<Void, SodiumError> = output.withUnsafeMutableBytes { buffer in
            Result { () throws(SodiumError) in try XChaCha20Poly1305.open(sealed, key: key, nonce: nonce, associatedData: aad, into: buffer) }
        }
        guard case .success = result else { throw FormatError(.authenticationFailed(what: "ciphertext")) }
        return output
    }

    private func associatedData(_ context: EncryptionContext) -> [UInt8] {
        Self.associatedData(keyID: keyID, keyVersion: keyVersion, context: context)
    }

    private func headerPrefix(keyID: UUID, keyVersion: UInt32) -> [UInt8] {
        Self.headerPrefix(keyID: keyID, keyVersion: keyVersion)
    }

    /// The header's first 21 bytes and the canonical context, written into one buffer.
    static func associatedData(keyID: UUID, keyVersion: UInt32, context: EncryptionContext) -> [UInt8] {
        var writer = ByteWriter(capacity: headerPrefixByteCount + context.canonicalBytes.count)
        writeHeaderPrefix(keyID: keyID, keyVersion: keyVersion, into: &writer)
        writer.append(context.canonicalBytes)
        return writer.bytes
    }

    /// Version, key id and key version: the blob's first 21 bytes.
    static func headerPrefix(keyID: UUID, keyVersion: UInt32) -> [UInt8] {
        var writer = ByteWriter(capacity: headerPrefixByteCount)
        writeHeaderPrefix(keyID: keyID, keyVersion: keyVersion, into: &writer)
        return writer.bytes
    }

    static let headerPrefixByteCount = 21

    private static func writeHeaderPrefix(keyID: UUID, keyVersion: UInt32, into writer: inout ByteWriter) {
        writer.u8(version)
        withUnsafeBytes(of: keyID.uuid) { writer.append($0) }
        writer.u32(keyVersion)
    }
}
