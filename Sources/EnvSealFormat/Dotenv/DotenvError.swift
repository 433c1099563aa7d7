/// A syntax error in a dotenv file, located by line and column.
///
/// The description names only the position and the kind of problem, never any text from the file:
/// values are secrets, and error messages end up in terminals, logs and CI output.
public struct DotenvError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong at the reported position.
    public enum Kind: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
        /// The bytes are not valid UTF-8 (the position is the first byte of the bad sequence).
        case invalidUTF8
        /// A NUL byte, which no environment variable can hold.
        case nulCharacter
        /// A carriage return outside quotes and comments that is not followed by a line feed.
        case bareCarriageReturn
        /// A character that cannot start or continue a variable name.
        case invalidName
        /// The name is not followed by `=`.
        case missingEquals
        /// A `'` that opens a value has no closing `'` (the position is the opening quote).
        case unterminatedSingleQuote
        /// A `"` that opens a value has no closing `"` (the position is the opening quote).
        case unterminatedDoubleQuote
        /// A `` ` `` that opens a value has no closing `` ` `` (the position is the opening quote).
        case unterminatedBacktickQuote
        /// Something other than spaces, tabs or a `#` comment follows a closing quote.
        case unexpectedCharacterAfterQuote

        /// A short English explanation that quotes nothing from the file.
        public var description: String {
            switch self {
            case .invalidUTF8: "invalid UTF-8"
            case .nulCharacter: "NUL character is not allowed"
            case .bareCarriageReturn: "carriage return not followed by a line feed"
            case .invalidName: "invalid character in variable name (names match [A-Za-z_][A-Za-z0-9_.-]*)"
            case .missingEquals: "expected '=' after the variable name"
            case .unterminatedSingleQuote: "unterminated single-quoted value (opened here)"
            case .unterminatedDoubleQuote: "unterminated double-quoted value (opened here)"
            case .unterminatedBacktickQuote: "unterminated backtick-quoted value (opened here)"
            case .unexpectedCharacterAfterQuote:
                "unexpected character after closing quote (only spaces, tabs and a # comment may follow)"
            }
        }
    }

    /// What is wrong.
    public let kind: Kind
    /// The 1-based line of the problem; only line feeds start a new line.
    public let line: Int
    /// The 1-based column of the problem, counted in Unicode scalars from the start of the line.
    ///
    /// A byte order mark at the start of the file is not counted.
    public let column: Int

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - kind: What is wrong.
    ///   - line: The 1-based line.
    ///   - column: The 1-based column in Unicode scalars.
    public init(kind: Kind, line: Int, column: Int) {
        self.kind = kind
        self.line = line
        self.column = column
    }

    /// The position and kind, for example `line 3, column 7: unterminated double-quoted value (opened here)`.
    public var description: String {
        "line \(line), column \(column): \(kind)"
    }
}
