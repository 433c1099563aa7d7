import ArgumentParser
import ChildProcess
import EnvSeal
import EnvSealFormat
import Foundation
import KMSClient
import KMSWire
import SealedDotenv

/// `envseal exec`: run a command with the decrypted environment.
struct ExecCommand: AsyncParsableCommand {
    // The super-command name matters only when exec is parsed on its own (the fast path in
    // `EnvSealCommand.runMain`): usage then reads `envseal exec`, and the parser skips its check
    // for a completion-script request, which `envseal --generate-completion-script` serves.
    static let configuration = CommandConfiguration(
        commandName: "exec",
        _superCommandName: "envseal",
        abstract: "Run a command with the sealed environment decrypted, optionally redacting its output.",
        discussion: """
        Opens the sealed variables of FILE, or those already in envseal's own environment (as \
        inside a function), with one Decrypt call, verifies them, and starts CMD with the \
        plaintext environment, without the ENVSEAL header. Core dumps are disabled first.

        Without --redact, envseal replaces itself with CMD (execve): CMD gets envseal's PID and \
        every signal directly. With --redact, envseal stays as CMD's parent, scrubs every secret \
        (and its base64, base64url, URL, JSON and hex encodings) from CMD's stdout and stderr, \
        forwards TERM, INT, HUP, QUIT, USR1, USR2 and WINCH, and exits with CMD's exit code \
        (128+N when CMD died of signal N). Values shorter than --min-length are not scrubbed, \
        with a warning naming the variable. envseal prints nothing else of its own on success.

        Exit codes: CMD's own; 126 CMD not executable; 127 CMD not found; envseal's codes \
        (51, 52, 53, 69, 77, …) when the environment does not open.

        Examples:
          envseal exec --file .env.sealed -- node server.js
          envseal exec --file .env.sealed --redact -- ./run-migrations.sh
          envseal exec --redact -- python handler.py      # inside a function: sealed variables are in the environment
        """
    )

    @Option(help: "A sealed dotenv file; default: the sealed variables of envseal's own environment.")
    var file: String?

    @Flag(help: "Scrub secrets from CMD's output (envseal stays as CMD's parent).")
    var redact = false

    @Flag(help: "Give CMD only the file's variables (or, without --file, only the sealed and covered ones), not envseal's environment.")
    var pristine = false

    @Flag(help: "Refuse to run CMD when nothing is sealed, instead of running it with the environment as it is.")
    var strict = false

    @Option(help: "Values shorter than this many bytes are not scrubbed by --redact.")
    var minLength = RedactionPatterns.defaultMinimumLength

    @Option(parsing: .upToNextOption, help: "Lambda-helper mode: the variables holding KMS ciphertexts (with --function).")
    var lambdaVariables: [String] = []

    @Option(help: "Lambda-helper mode: the function name bound into each value (default: AWS_LAMBDA_FUNCTION_NAME).")
    var function: String?

    @OptionGroup var service: KeyServiceOptions

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command to run after --, e.g. envseal exec --file .env.sealed -- node app.js") }
        guard minLength >= 1 else { throw ValidationError("--min-length must be at least 1") }
    }

    func run() async throws {
        do {
            try ProcessHardening.disableCoreDumps()
        } catch {
            warn("core dumps could not be disabled: \(error)")
        }
        let ownEnvironment = ProcessEnvironment.variables()
        var environment = ownEnvironment
        var secrets: [String: Secret<String>] = [:]
        let sources = try file.map(Self.variables(inFile:)) ?? ownEnvironment
        let isSealed = sources[SealedFileHeader.variableName] != nil || !lambdaVariables.isEmpty
        if isSealed {
            let connection = try await service.connect(environment: ownEnvironment)
            let opened: SealedEnvironment
            do {
                opened = try await SealedEnvironment.load(
                    from: .variables(sources), provider: KMSDataKeyProvider(client: connection.client),
                    options: .init(maxAge: .zero, lambdaVariables: lambdaVariables, functionName: function))
            } catch {
                throw Self.cliError(error, place: file)
            }
            secrets = opened.secrets
            let decrypted = opened.plaintextEnvironment()
            if pristine {
                environment = file != nil ? decrypted : decrypted.filter { sources[$0.key].map(SealedValue.isSealed) ?? false || opened.secrets[$0.key] != nil }
            } else {
                environment = ownEnvironment.merging(decrypted) { _, new in new }
            }
        } else if strict {
            throw CLIError("\(file ?? "the environment"): nothing is sealed (no \(SealedFileHeader.variableName) header)",
                           hint: "seal it with `envseal encrypt`, or drop --strict", exitCode: EnvSealExit.malformedInput)
        } else if let file {
            environment = pristine ? sources : ownEnvironment.merging(sources) { _, new in new }
        }
        environment[SealedFileHeader.variableName] = nil
        if strict, let name = environment.first(where: { SealedValue.isSealed($0.value) })?.key {
            throw CLIError("variable \(name) still holds a sealed value after opening", exitCode: EnvSealExit.tampered)
        }

        guard redact else {
            do {
                try ChildProcess.replace(command: command, environment: environment)
            } catch {
                throw Self.cliError(error)
            }
        }
        let patterns: RedactionPatterns
        do {
            patterns = try RedactionPatterns(secrets: secrets, minimumLength: minLength)
        } catch {
            throw CLIError("cannot prepare redaction: \(error)")
        }
        for name in patterns.skippedNames {
            warn("\(name) is shorter than \(minLength) bytes and is not redacted (--min-length)")
        }
        var out = patterns.makeRedactor()
        var err = patterns.makeRedactor()
        let termination: Termination
        do {
            termination = try ChildProcess.supervise(command: command, environment: environment, stdout: &out, stderr: &err)
        } catch {
            throw Self.cliError(error)
        }
        Foundation.exit(termination.exitCode)
    }

    /// The variables of a sealed dotenv file.
    private static func variables(inFile path: String) throws -> [String: String] {
        let dotenv = try FileIO.readDotenv(path)
        if let duplicate = dotenv.duplicateNames().first {
            throw CLIError("\(path): variable \(duplicate) is assigned more than once", exitCode: EnvSealExit.malformedInput)
        }
        return Dictionary(dotenv.assignments.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    static func cliError(_ error: ChildProcessError) -> CLIError {
        switch error.code {
        case .commandNotFound: return CLIError(error.description, exitCode: 127)
        case .notExecutable: return CLIError(error.description, exitCode: 126)
        default: return CLIError(error.description)
        }
    }

    static func cliError(_ error: SealedEnvironment.LoadError, place: String?) -> CLIError {
        let prefix = place.map { "\($0): " } ?? ""
        let code: Int32
        switch error.cause {
        case .tampered: code = EnvSealExit.tampered
        case .malformed, .notSealed: code = EnvSealExit.malformedInput
        case .unreadable: code = EnvSealExit.cannotRead
        case .unreachable: code = EnvSealExit.unavailable
        case .notConfigured: code = EnvSealExit.configuration
        case .keyService(let type):
            let (code, hint) = ErrorReport.outcome(of: KMSErrorType(rawValue: type))
            return CLIError(prefix + error.message, hint: hint, exitCode: code)
        }
        return CLIError(prefix + error.message, exitCode: code)
    }
}

// The redactor already has `filter(_:)` and `finish()`; EnvSeal does not depend on ChildProcess.
extension Redactor: OutputFilter {}
