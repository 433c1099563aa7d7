import ArgumentParser

/// envseal's exit codes, documented in docs/CLI.md. Scripts may rely on them.
public enum EnvSealExit {
    /// Success.
    public static let success: Int32 = 0
    /// A failure with no more specific code.
    public static let failure: Int32 = 1
    /// Bad command-line usage (ArgumentParser's validation code).
    public static let usage: Int32 = 64
    /// An input file is malformed: dotenv syntax, a header or a sealed value that does not parse.
    public static let malformedInput: Int32 = 65
    /// An input file is missing or unreadable.
    public static let cannotRead: Int32 = 66
    /// A sealed file was tampered with: a variable missing, added, changed, or not authentic.
    public static let tampered: Int32 = 51
}

/// An error the CLI reports as `envseal: error: …` with an exit code.
struct CLIError: Error, CustomStringConvertible {
    let message: String
    let hint: String?
    let exitCode: Int32

    init(_ message: String, hint: String? = nil, exitCode: Int32 = EnvSealExit.failure) {
        self.message = message
        self.hint = hint
        self.exitCode = exitCode
    }

    var description: String { message }
}
