/// What a scrubbed secret is replaced with.
///
/// The marker says that something was removed and never what: it does not depend on the value,
/// its length or the form (plain, base64, hex…) in which it was found.
///
/// ```swift
/// let patterns = try RedactionPatterns(secrets: secrets, marker: .variableName)
/// patterns.redact("password=\(password)")   // password=<redacted:DB_PASSWORD>
/// ```
public struct RedactionMarker: Sendable, Hashable {
    private enum Kind: Sendable, Hashable {
        case text(String)
        case variableName
    }

    private let kind: Kind

    /// `<redacted>`, the marker ``Secret`` prints: the default.
    public static let standard = RedactionMarker(kind: .text("<redacted>"))

    /// `<redacted:NAME>`, naming the variable whose value was found.
    ///
    /// Names are not secret in envseal (a sealed file keeps them readable), and they tell the
    /// reader of a log which credential leaked; the marker reveals that this secret appeared, and
    /// nothing of its value.
    public static let variableName = RedactionMarker(kind: .variableName)

    /// A fixed text of your choosing, the same for every secret.
    /// - Parameter text: The replacement; it may be empty, to delete secrets without a trace.
    public static func text(_ text: String) -> RedactionMarker { RedactionMarker(kind: .text(text)) }

    /// The marker's bytes for the variable `name`.
    func bytes(forName name: String) -> [UInt8] {
        switch kind {
        case .text(let text): Array(text.utf8)
        case .variableName: Array("<redacted:\(name)>".utf8)
        }
    }
}
