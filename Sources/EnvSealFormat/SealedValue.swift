package import SodiumKit

/// One sealed value of a dotenv file (format version 1).
///
/// Text form: `es1:` followed by unpadded base64url of `iv ‖ ciphertext`, where the 16-byte
/// synthetic IV and the ciphertext come from ``XChaCha20SIV`` under the file's value keys, with
/// the variable's name (UTF-8) as associated data. The same value under the same name in the same
/// file always seals to the same text, so an unchanged value leaves no diff; a value moved to
/// another name or another file fails to open. Overhead: 4 prefix characters plus the base64 of
/// 16 extra bytes, 26 to 27 characters in all beyond the value's own base64 length.
///
/// A **sealed spelling** (`es2:`) seals the value as it was written in the file (its quotes and
/// escapes, as ``DotenvFile/Assignment/rawValue``) instead of the decoded value, for the values
/// whose spelling the dotenv writer would not reproduce (`"\u00e9"`, `K=${X}`). Its associated
/// data is `es2:` followed by the name: a name cannot contain `:`, so a value's text cannot be
/// passed off as a spelling's or the other way round by changing the prefix.
package enum SealedValue {
    /// The text every sealed value starts with.
    package static let prefix = "es1:"
    /// The text every sealed spelling starts with.
    package static let spellingPrefix = "es2:"

    /// `true` when `text` has the sealed-value or the sealed-spelling prefix.
    package static func isSealed(_ text: some StringProtocol) -> Bool { text.hasPrefix(prefix) || isSpelling(text) }

    /// `true` when `text` has the sealed-spelling prefix: it opens to a spelling, not a value.
    package static func isSpelling(_ text: some StringProtocol) -> Bool { text.hasPrefix(spellingPrefix) }

    /// Seals a value for a variable.
    /// - Parameters:
    ///   - value: The plaintext, in guarded memory.
    ///   - name: The variable's name, bound in as associated data.
    ///   - keys: The file's keys.
    /// - Returns: The sealed text, prefix included.
    /// - Throws: ``FormatError`` when the value is too long to seal.
    package static func seal(_ value: SecureBytes, name: String, keys: SealedFileKeys) throws(FormatError) -> String {
        prefix + Base64URL.encode(try sealedBytes(value, associatedData: Array(name.utf8), name: name, keys: keys))
    }

    /// Seals a value's spelling (see ``SealedValue``).
    /// - Parameters:
    ///   - spelling: The value as written in the file, quotes and escapes included, in guarded memory.
    ///   - name: The variable's name, bound in as associated data with the `es2:` prefix.
    ///   - keys: The file's keys.
    /// - Returns: The sealed text, `es2:` prefix included.
    /// - Throws: ``FormatError`` when the spelling is too long to seal.
    package static func sealSpelling(_ spelling: SecureBytes, name: String, keys: SealedFileKeys) throws(FormatError) -> String {
        spellingPrefix + Base64URL.encode(
            try sealedBytes(spelling, associatedData: Array((spellingPrefix + name).utf8), name: name, keys: keys))
    }

    /// The associated data a sealed text was sealed with: the name, or `es2:` and the name.
    package static func associatedData(of text: some StringProtocol, name: String) -> [UInt8] {
        Array(((isSpelling(text) ? spellingPrefix : "") + name).utf8)
    }

    /// Opens a sealed value (or, for an `es2:` text, a sealed spelling).
    /// - Parameters:
    ///   - text: The sealed text, prefix included.
    ///   - name: The variable's name in the file.
    ///   - keys: The file's keys.
    /// - Returns: The plaintext, in guarded memory.
    /// - Throws: ``FormatError``: `.invalidField` without the prefix, `.invalidBase64`,
    ///   `.truncated` when shorter than the IV, `.valueNotAuthentic` for a wrong name, a wrong
    ///   file, or a changed character. No error contains the value.
    package static func open(_ text: some StringProtocol, name: String, keys: SealedFileKeys) throws(FormatError) -> SecureBytes {
        let bytes = try decode(text, name: name)
        do {
            return try XChaCha20SIV.open(bytes, keys: keys.valueKeys, associatedData: associatedData(of: text, name: name))
        } catch {
            throw FormatError(.valueNotAuthentic(name: name))
        }
    }

    /// The raw bytes (`iv ‖ ciphertext`) of a sealed text, checked for form but not opened.
    /// - Throws: ``FormatError`` for a missing prefix, bad base64url or a value shorter than the IV.
    package static func decode(_ text: some StringProtocol, name: String) throws(FormatError) -> [UInt8] {
        guard isSealed(text) else {
            throw FormatError(.invalidField(field: "value of \(name)", reason: "it does not start with \(prefix) or \(spellingPrefix)"))
        }
        // Both prefixes have the same length.
        let bytes = try Base64URL.decode(text.dropFirst(prefix.count), field: "sealed value of \(name)")
        guard bytes.count >= XChaCha20SIV.overhead else { throw FormatError(.truncated(field: "sealed value of \(name)")) }
        return bytes
    }

    static func sealedBytes(_ value: SecureBytes, associatedData: [UInt8], name: String, keys: SealedFileKeys) throws(FormatError) -> [UInt8] {
        do {
            return try XChaCha20SIV.seal(value, keys: keys.valueKeys, associatedData: associatedData)
        } catch {
            throw FormatError(.invalidField(field: "value of \(name)", reason: error.description))
        }
    }
}
