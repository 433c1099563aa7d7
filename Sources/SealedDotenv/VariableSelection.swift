/// Which variables to seal: all by default, narrowed by `--only` and `--except` patterns.
///
/// Patterns are regular expressions searched for anywhere in the name (like sops's
/// `encrypted_regex`); anchor them with `^…$` to match whole names.
///
/// ```swift
/// let selection = try VariableSelection(only: "(PASSWORD|SECRET|KEY)$", except: "^PUBLIC_")
/// selection.includes("DB_PASSWORD")   // true
/// ```
package struct VariableSelection {
    private let only: Regex<AnyRegexOutput>?
    private let except: Regex<AnyRegexOutput>?

    package static var all: VariableSelection { VariableSelection(only: nil as Regex<AnyRegexOutput>?, except: nil) }

    /// Creates a selection from patterns.
    /// - Parameters:
    ///   - only: Select only names that match.
    ///   - except: Leave out names that match.
    /// - Throws: ``SealedFileError`` `.invalidPattern` for a pattern that does not compile.
    package init(only: String?, except: String?) throws(SealedFileError) {
        self.only = try Self.compile(only)
        self.except = try Self.compile(except)
    }

    private init(only: Regex<AnyRegexOutput>?, except: Regex<AnyRegexOutput>?) {
        self.only = only
        self.except = except
    }

    /// Whether the selection includes a name.
    package func includes(_ name: String) -> Bool {
        if let only, (try? only.firstMatch(in: name)) == nil { return false }
        if let except, (try? except.firstMatch(in: name)) != nil { return false }
        return true
    }

    private static func compile(_ pattern: String?) throws(SealedFileError) -> Regex<AnyRegexOutput>? {
        guard let pattern else { return nil }
        do {
            return try Regex(pattern)
        } catch {
            throw SealedFileError(.invalidPattern(pattern: pattern, reason: "\(error)"))
        }
    }
}
