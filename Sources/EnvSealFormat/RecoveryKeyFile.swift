package import SodiumKit

/// The secret half of an offline recovery key, as a small text file (docs/FORMAT.md, "Recovery
/// keys"): comment lines, then one key line.
///
/// ```text
/// # envseal recovery key: anyone with this file opens every file sealed for its recipient
/// # recipient: esr1:…
/// # created: 2026-12-08T00:00:00Z
/// esk1:…          (or esk1p:…, protected by a passphrase)
/// ```
///
/// `esk1:` is base64url(secret key ‖ public key); the public key is computed again from the secret
/// key on reading, so a change to either is refused (but for the secret key's bits that X25519's
/// clamping ignores: they leave the key what it was). `esk1p:` is base64url(salt ‖ u32
/// opslimit ‖ u32 memlimit in KiB ‖ nonce ‖ AEAD(k, nonce, aad = public key, secret key) ‖ public
/// key ‖ checksum) with k = Argon2id(passphrase, salt, opslimit, memlimit): the checksum (first 4
/// bytes of unkeyed BLAKE2b-16 over `[everything before it]`) catches a damaged file before the
/// passphrase is tried, so a failing AEAD then means a wrong passphrase. This type parses and
/// renders the text; it does no I/O.
package struct RecoveryKeyFile: Sendable {
    /// The key line's prefix for an unprotected secret key.
    package static let plainPrefix = "esk1:"
    /// The key line's prefix for a passphrase-protected secret key.
    package static let protectedPrefix = "esk1p:"
    /// The comment line that names the recipient (checked when present).
    static let recipientComment = "# recipient: "

    /// The highest Argon2id pass count a file may ask for: libsodium's "sensitive" profile is 4.
    package static let maxOpsLimit: UInt32 = 64
    /// The most memory a file may ask for, in KiB (4 GiB): a damaged or hostile file must not make
    /// the reader allocate without bound.
    package static let maxMemLimitKiB: UInt32 = 4 << 20
    /// The least memory libsodium's Argon2id accepts, in KiB.
    static let minMemLimitKiB: UInt32 = 8

    static let saltByteCount = Argon2id.Salt.byteCount
    static let sealedByteCount = BoxKeyPair.secretKeyByteCount + XChaCha20Poly1305.tagByteCount
    static let checksumByteCount = 4
    static let protectedByteCount = saltByteCount + 4 + 4 + Nonce.byteCount + sealedByteCount + BoxKeyPair.publicKeyByteCount + checksumByteCount

    /// The recipient the file's key opens: readable without the passphrase.
    package let recipient: RecoveryRecipient
    private let body: Body

    private enum Body: Sendable {
        case plain(BoxKeyPair)
        case protected(salt: Argon2id.Salt, parameters: Argon2id.Parameters, nonce: Nonce, sealed: [UInt8])
    }

    /// `true` when the secret key needs a passphrase to be unlocked.
    package var isPassphraseProtected: Bool {
        if case .protected = body { return true }
        return false
    }

    /// How a new file's secret key is protected by a passphrase.
    package struct Protection: Sendable {
        let passphrase: SecureBytes
        let salt: Argon2id.Salt
        let parameters: Argon2id.Parameters
        let nonce: Nonce

        /// A protection with a fresh random salt and nonce.
        /// - Parameters:
        ///   - passphrase: The passphrase, in guarded memory.
        ///   - parameters: The Argon2id cost (``Argon2id/Parameters/moderate`` as the root key).
        package init(passphrase: SecureBytes, parameters: Argon2id.Parameters) {
            self.init(passphrase: passphrase, salt: .random(), parameters: parameters, nonce: .random())
        }

        /// A protection with a given salt and nonce: for test vectors only.
        package init(passphrase: SecureBytes, salt: Argon2id.Salt, parameters: Argon2id.Parameters, nonce: Nonce) {
            self.passphrase = passphrase
            self.salt = salt
            self.parameters = parameters
            self.nonce = nonce
        }
    }

    // MARK: - Writing

    /// The text of a new recovery key file.
    /// - Parameters:
    ///   - keyPair: The key pair.
    ///   - protection: A passphrase to protect the secret key with, or `nil` for none.
    ///   - created: The creation time for the comment (ISO 8601), or `nil` for no such line.
    /// - Returns: The file's bytes (UTF-8 text). They hold the secret key: write them to a private
    ///   file and drop them.
    /// - Throws: ``RecoveryKeyError`` for cost parameters outside the limits a reader accepts.
    package static func render(_ keyPair: BoxKeyPair, protection: Protection?, created: String?) throws(RecoveryKeyError) -> [UInt8] {
        let recipient = try RecoveryRecipient(publicKey: keyPair.publicKey)
        var payload: [UInt8]
        let prefix: String
        if let protection {
            let (ops, memKiB) = try encodedParameters(protection.parameters)
            let key = try deriveKey(protection.passphrase, salt: protection.salt, parameters: protection.parameters)
            let sealed: [UInt8]
            do {
                sealed = try XChaCha20Poly1305.seal(keyPair.secretKey, key: key, nonce: protection.nonce, associatedData: keyPair.publicKey)
            } catch {
                throw RecoveryKeyError(.malformedKeyFile("cannot seal the secret key: \(error)"))
            }
            var writer = ByteWriter()
            writer.append(protection.salt.bytes)
            writer.u32(ops)
            writer.u32(memKiB)
            writer.append(protection.nonce.bytes)
            writer.append(sealed)
            writer.append(keyPair.publicKey)
            payload = writer.bytes
            payload += checksum(payload)
            prefix = protectedPrefix
        } else {
            payload = keyPair.secretKey.withUnsafeBytes { Array($0) } + keyPair.publicKey
            prefix = plainPrefix
        }
        defer { SecureMemory.zero(&payload) }
        var text = "# envseal recovery key: anyone with this file opens every file sealed for its recipient\n"
        text += recipientComment + recipient.text + "\n"
        if let created { text += "# created: \(created)\n" }
        text += prefix + Base64URL.encode(payload) + "\n"
        return Array(text.utf8)
    }

    // MARK: - Reading

    /// Parses a recovery key file, checking everything that can be checked without the passphrase.
    /// - Parameter bytes: The file's bytes.
    /// - Throws: ``RecoveryKeyError``: malformed (not UTF-8, no key line or two, a bad prefix,
    ///   base64url, length or cost) or damaged (the checksum, the public key, or the recipient
    ///   comment does not match). Messages name lines by number and never show their text.
    package init(parsing bytes: [UInt8]) throws(RecoveryKeyError) {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw RecoveryKeyError(.malformedKeyFile("it is not UTF-8 text"))
        }
        var keyLine: (number: Int, text: Substring)?
        var commentRecipients: [(number: Int, text: Substring)] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                if line.hasPrefix(Self.recipientComment) {
                    commentRecipients.append((index + 1, line.dropFirst(Self.recipientComment.count)))
                }
                continue
            }
            guard line.hasPrefix(Self.plainPrefix) || line.hasPrefix(Self.protectedPrefix) else {
                throw RecoveryKeyError(.malformedKeyFile("line \(index + 1) is neither a comment nor a key line (\(Self.plainPrefix)… or \(Self.protectedPrefix)…)"))
            }
            if let first = keyLine {
                throw RecoveryKeyError(.malformedKeyFile("lines \(first.number) and \(index + 1) are both key lines; a file holds one key"))
            }
            keyLine = (index + 1, line)
        }
        guard let keyLine else {
            throw RecoveryKeyError(.malformedKeyFile("it has no key line (\(Self.plainPrefix)… or \(Self.protectedPrefix)…)"))
        }
        let isProtected = keyLine.text.hasPrefix(Self.protectedPrefix)
        let encoded = keyLine.text.dropFirst(isProtected ? Self.protectedPrefix.count : Self.plainPrefix.count)
        var payload: [UInt8]
        do {
            payload = try Base64URL.decode(encoded, field: "key line")
        } catch {
            throw RecoveryKeyError(.malformedKeyFile("line \(keyLine.number): the key is not canonical unpadded base64url"))
        }
        defer { SecureMemory.zero(&payload) }
        if isProtected {
            let (parsed, publicKey) = try Self.parseProtected(payload, line: keyLine.number)
            body = parsed
            recipient = try RecoveryRecipient(publicKey: publicKey)
        } else {
            let keyPair = try Self.parsePlain(payload, line: keyLine.number)
            body = .plain(keyPair)
            recipient = try RecoveryRecipient(publicKey: keyPair.publicKey)
        }
        for comment in commentRecipients {
            guard let named = try? RecoveryRecipient(parsing: String(comment.text)), named == recipient else {
                throw RecoveryKeyError(.damagedKeyFile("the recipient on line \(comment.number) is not the key's"))
            }
        }
    }

    /// The key pair, unlocked with the passphrase when the file is protected.
    /// - Parameter passphrase: The passphrase; ignored for an unprotected file.
    /// - Returns: The key pair, its public key checked against the secret key.
    /// - Throws: ``RecoveryKeyError``: passphrase required, wrong passphrase, or a damaged file.
    package func unlock(passphrase: SecureBytes?) throws(RecoveryKeyError) -> BoxKeyPair {
        switch body {
        case .plain(let keyPair):
            return keyPair
        case .protected(let salt, let parameters, let nonce, let sealed):
            guard let passphrase else { throw RecoveryKeyError(.passphraseRequired) }
            let key = try Self.deriveKey(passphrase, salt: salt, parameters: parameters)
            let secretKey: SecureBytes
            do {
                secretKey = try XChaCha20Poly1305.open(sealed, key: key, nonce: nonce, associatedData: recipient.publicKey)
            } catch {
                // The checksum passed, so the bytes are as written: the passphrase is wrong (or the
                // file was forged with its checksum recomputed, which no passphrase opens either).
                throw RecoveryKeyError(.wrongPassphrase)
            }
            return try Self.keyPair(secretKey, expecting: recipient.publicKey)
        }
    }

    static func parsePlain(_ payload: [UInt8], line: Int) throws(RecoveryKeyError) -> BoxKeyPair {
        let expected = BoxKeyPair.secretKeyByteCount + BoxKeyPair.publicKeyByteCount
        guard payload.count == expected else {
            throw RecoveryKeyError(.malformedKeyFile("line \(line): the key holds \(payload.count) bytes, not \(expected)"))
        }
        let secretKey: SecureBytes
        do {
            secretKey = try SecureBytes(copying: payload[..<BoxKeyPair.secretKeyByteCount])
        } catch {
            throw RecoveryKeyError(.malformedKeyFile("cannot hold the secret key: \(error)"))
        }
        return try keyPair(secretKey, expecting: Array(payload[BoxKeyPair.secretKeyByteCount...]))
    }

    private static func parseProtected(_ payload: [UInt8], line: Int) throws(RecoveryKeyError) -> (Body, publicKey: [UInt8]) {
        guard payload.count == protectedByteCount else {
            throw RecoveryKeyError(.malformedKeyFile("line \(line): the protected key holds \(payload.count) bytes, not \(protectedByteCount)"))
        }
        let checked = Array(payload[..<(protectedByteCount - checksumByteCount)])
        guard ConstantTime.equal(payload[(protectedByteCount - checksumByteCount)...], checksum(checked)) else {
            throw RecoveryKeyError(.damagedKeyFile("line \(line): its checksum does not match"))
        }
        do {
            var reader = ByteReader(checked)
            let salt = try Argon2id.Salt(bytes: reader.take(saltByteCount, "salt"))
            let ops = try reader.u32("opslimit")
            let memKiB = try reader.u32("memlimit")
            guard (1...maxOpsLimit).contains(ops) else {
                throw RecoveryKeyError(.malformedKeyFile("line \(line): opslimit \(ops) is outside 1…\(maxOpsLimit)"))
            }
            guard (minMemLimitKiB...maxMemLimitKiB).contains(memKiB) else {
                throw RecoveryKeyError(.malformedKeyFile("line \(line): memlimit \(memKiB) KiB is outside \(minMemLimitKiB)…\(maxMemLimitKiB) KiB"))
            }
            let nonce = try Nonce(bytes: reader.take(Nonce.byteCount, "nonce"))
            let sealed = try reader.take(sealedByteCount, "sealed secret key")
            let publicKey = try reader.take(BoxKeyPair.publicKeyByteCount, "public key")
            let parameters = Argon2id.Parameters(opsLimit: UInt64(ops), memLimit: Int(memKiB) * 1024)
            return (.protected(salt: salt, parameters: parameters, nonce: nonce, sealed: sealed), publicKey)
        } catch let error as RecoveryKeyError {
            throw error
        } catch {
            // The length was checked above, so the reader cannot run out.
            throw RecoveryKeyError(.malformedKeyFile("line \(line): \(error)"))
        }
    }

    /// The pair of `secretKey`, refused unless its public key is `expected`.
    static func keyPair(_ secretKey: SecureBytes, expecting expected: [UInt8]) throws(RecoveryKeyError) -> BoxKeyPair {
        let keyPair: BoxKeyPair
        do {
            keyPair = try BoxKeyPair(secretKey: secretKey)
        } catch {
            throw RecoveryKeyError(.malformedKeyFile("the secret key is unusable: \(error)"))
        }
        guard ConstantTime.equal(keyPair.publicKey, expected) else {
            throw RecoveryKeyError(.damagedKeyFile("the public key does not belong to the secret key"))
        }
        return keyPair
    }

    static func encodedParameters(_ parameters: Argon2id.Parameters) throws(RecoveryKeyError) -> (UInt32, UInt32) {
        guard parameters.opsLimit >= 1, parameters.opsLimit <= UInt64(maxOpsLimit),
              parameters.memLimit % 1024 == 0,
              (Int(minMemLimitKiB)...Int(maxMemLimitKiB)).contains(parameters.memLimit / 1024) else {
            throw RecoveryKeyError(.malformedKeyFile("Argon2id cost outside opslimit 1…\(maxOpsLimit), memlimit \(minMemLimitKiB)…\(maxMemLimitKiB) KiB"))
        }
        return (UInt32(parameters.opsLimit), UInt32(parameters.memLimit / 1024))
    }

    static func deriveKey(_ passphrase: SecureBytes, salt: Argon2id.Salt, parameters: Argon2id.Parameters) throws(RecoveryKeyError) -> KeyMaterial {
        do {
            return try Argon2id.deriveKey(passphrase: passphrase, salt: salt, parameters: parameters).key
        } catch {
            throw RecoveryKeyError(.malformedKeyFile("Argon2id refused the file's cost: \(error)"))
        }
    }

    /// The first 4 bytes of unkeyed BLAKE2b-16 over `[bytes]`.
    static func checksum(_ bytes: [UInt8]) -> [UInt8] {
        do {
            return Array(try BLAKE2b.hash(outputByteCount: 16, parts: [bytes]).prefix(checksumByteCount))
        } catch {
            preconditionFailure("BLAKE2b-16 over a key file failed: \(error)")
        }
    }
}
