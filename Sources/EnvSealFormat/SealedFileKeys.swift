package import SodiumKit

/// The keys a sealed file derives from its data key, one per purpose.
///
/// ```
/// value SIV MAC key   = crypto_kdf(dataKey, id 1, context "esvalue1")
/// value stream key    = crypto_kdf(dataKey, id 2, context "esvalue1")
/// header MAC key      = crypto_kdf(dataKey, id 1, context "esheadr1")
/// variable tag key    = crypto_kdf(dataKey, id 2, context "esheadr1")
/// ```
package struct SealedFileKeys: Sendable {
    let valueKeys: XChaCha20SIV.Keys
    let headerMACKey: SubKey
    let variableTagKey: SubKey

    /// Derives every key from the file's data key.
    /// - Parameter dataKey: The file's data key, unwrapped by the key service.
    /// - Throws: ``FormatError`` only when guarded memory cannot be had.
    package init(dataKey: DataKey) throws(FormatError) {
        do {
            valueKeys = try XChaCha20SIV.Keys(deriving: dataKey, context: KeyDerivation.Context("esvalue1"))
            let header = try KeyDerivation.Context("esheadr1")
            headerMACKey = try KeyDerivation.derive(from: dataKey, id: 1, context: header)
            variableTagKey = try KeyDerivation.derive(from: dataKey, id: 2, context: header)
        } catch {
            throw FormatError(.invalidField(field: "data key", reason: "\(error)"))
        }
    }
}
