package import EnvSealFormat
import SodiumKit

extension SealedFile {
    /// The prefix of a sealed value's fingerprint in ``fingerprintView(of:)``.
    package static let fingerprintPrefix = "sealed:"
    /// The prefix of the data key's fingerprint, on the `ENVSEAL` line of ``fingerprintView(of:)``.
    package static let dataKeyFingerprintPrefix = "data-key:"

    /// A sealed file as someone without its key may see it, for `git diff`: the same lines, plain
    /// values as they are, each sealed value replaced by `sealed:` and a fingerprint of its
    /// ciphertext, and the header by `data-key:` and a fingerprint of its first slot's wrapped data key
    /// (which adding or removing a later slot leaves as it is).
    ///
    /// A fingerprint is the first 6 bytes (12 hex digits) of SHA-256 over the sealed text. Sealing
    /// is deterministic under one data key (docs/FORMAT.md, section 3), so a fingerprint changes
    /// exactly when its value changes (or the data key does, which the `ENVSEAL` line then shows).
    /// It is computed from the ciphertext, which the file shows anyway, never from the plaintext:
    /// testing a guessed value against it needs the data key, as testing it against the ciphertext
    /// does. The header's MAC changes with every edit and is left out, so an unchanged value
    /// leaves its line and the `ENVSEAL` line unchanged.
    ///
    /// Needs no key and verifies nothing.
    /// - Parameter file: A dotenv file; one without sealed values comes back as it is.
    /// - Returns: The file with markers in place of sealed values and the header.
    /// - Throws: ``FormatError`` for a sealed value or header that is not well-formed.
    package static func fingerprintView(of file: DotenvFile) throws -> DotenvFile {
        var markers: [(name: String, spelling: String)] = []
        for assignment in file.assignments {
            if assignment.name == SealedFileHeader.variableName {
                let header = try SealedFileHeader(parsing: assignment.value)
                markers.append((assignment.name, dataKeyFingerprintPrefix + fingerprint(header.firstSlotBytes)))
            } else if SealedValue.isSealed(assignment.value) {
                _ = try SealedValue.decode(assignment.value, name: assignment.name)
                markers.append((assignment.name, fingerprintPrefix + fingerprint(Array(assignment.value.utf8))))
            }
        }
        var view = file
        try view.set(spellings: markers)
        return view
    }

    /// The first 6 bytes of SHA-256, in hex.
    static func fingerprint(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(SHA256.hash(bytes).prefix(6).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
    }
}

extension SealedFileHeader {
    /// The wrapped or sealed data key of the first slot.
    var firstSlotBytes: [UInt8] {
        switch slots[0] {
        case .kms(let slot): slot.wrappedDataKey
        case .recipient(let slot): slot.sealedDataKey
        }
    }
}
