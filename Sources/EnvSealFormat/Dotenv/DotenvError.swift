/// A syntax error in a dotenv file, located by line and column.
///
/// The description names only the position and the kind of problem, never any text from the file:
/// values are secrets, and error messages end up in terminals, logs and CI output.
public struct DotenvError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong at the reported position: one of the static members below.
    ///
    /// A struct rather than an enum so that a kind can be added without breaking a `switch`
    /// elsewhere; compare with `==` or match with `case .missingEquals:` (and a `default:`).
    public struct Kind: Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// The kind's name, as the static member is spelled: `missingEquals`.
        public let rawValue: String
        /// A short English explanation that quotes nothing from the file.
        public let description: String

        private init(_ rawValue: String, _ description: String) {
            self.rawValue = rawValue
            self.description = description
        }

        /// The bytes are not valid UTF-8 (the position is the first byte of the bad sequence).
        public static let invalidUTF8 = Kind("invalidUTF8", "invalid UTF-8")
        /// A NUL byte, which no environment variable can hold.
        public static let nulCharacter = Kind("nulCharacter", "NUL character is not allowed")
        /// A carriage return outside quotes and comments that is not followed by a line feed.
        public static let bareCarriageReturn = Kind("bareCarriageReturn", "carriage return not followed by a line feed")
        /// A character that cannot start or continue a variable name.
        public static let invalidName = Kind(
            "invalidName", "invalid character in variable name (names match [A-Za-z_][A-Za-z0-9_.-]*)")
        /// The name is not followed by `=`.
        public static let missingEquals = Kind("missingEquals", "expected '=' after the variable name")
        /// A `'` that opens a value has no closing `'` (the position is the opening quote).
        public static let unterminatedSingleQuote = Kind(
            "unterminatedSingleQuote", "unterminated single-quoted value (opened here)")
        /// A `"` that opens a value has no closing `"` (the position is the opening quote).
        public static let unterminatedDoubleQuote = Kind(
            "unterminatedDoubleQuote", "unterminated double-quoted value (opened here)")
        /// A `` ` `` that opens a value has no closing `` ` `` (the position is the opening quote).
        public static let unterminatedBacktickQuote = Kind(
            "unterminatedBacktickQuote", "unterminated backtick-quoted value (opened here)")
        /// Something other than spaces, tabs or a `#` comment follows a closing quote.
        public static let unexpectedCharacterAfterQuote = Kind(
            "unexpectedCharacterAfterQuote",
            "unexpected character after closing quote (only spaces, tabs and a # comment may follow)")

        /// Every kind this version reports.
        public static let allCases: [Kind] = [
            .invalidUTF8, .nulCharacter, .bareCarriageReturn, .invalidName, .missingEquals,
            .unterminatedSingleQuote, .unterminatedDoubleQuote, .unterminatedBacktickQuote,
            .unexpectedCharacterAfterQuote,
        ]

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
