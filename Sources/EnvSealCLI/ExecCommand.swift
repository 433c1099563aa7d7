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

        Every variable of FILE must be covered by its header: one added after sealing \
        (LD_PRELOAD, PATH, …) is tampering (exit 51, naming it). A FILE without a header is \
        refused (exit 65) unless --allow-unsealed; sealed values (es1:) without a header always \
        are (exit 51). --expect-context and --expect-key refuse a genuine sealed file of another \
        context or key put in FILE's place (exit 51).

        Without --redact, envseal replaces itself with CMD (execve): CMD gets envseal's PID and \
        every signal directly. With --redact, envseal stays as CMD's parent, scrubs every secret \
        (and its base64, base64url, URL, JSON and hex encodings) from CMD's stdout and stderr, \
        forwards TERM, INT, HUP, QUIT, USR1, USR2 and WINCH, and exits with CMD's exit code \
        (128+N when CMD died of signal N). Values shorter than --min-length are not scrubbed, \
        with a warning naming the variable. envseal prints nothing else of its own on success.

        With --as-files DIR, each sealed variable NAME is not in CMD's environment: its value is \
        in a file (0400) of a private folder (0700) made in DIR, and NAME_FILE holds the file's \
        path, as Docker's official images expect (POSTGRES_PASSWORD_FILE). Plain variables stay \
        variables. envseal stays as CMD's parent, forwards signals as with --redact, and removes \
        the folder when CMD ends. DIR must be on tmpfs or ramfs (such as /dev/shm) unless \
        --allow-disk. A NAME_FILE already set in FILE or the environment is refused (exit 65).

        Exit codes: CMD's own; 126 CMD not executable; 127 CMD not found; envseal's codes \
        (51, 52, 53, 69, 77, …) when the environment does not open.

        Examples:
          envseal exec --file .env.sealed -- node server.js
          envseal exec --file .env.sealed --redact -- ./run-migrations.sh
          envseal exec --file .env.sealed --as-files /dev/shm -- docker-entrypoint.sh postgres
          envseal exec --file .env.sealed --expect-context app=billing --expect-key alias/billing -- node server.js
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

    @Flag(help: "Run CMD with FILE's variables as they are when FILE has no ENVSEAL header (sealed es1: values are still refused).")
    var allowUnsealed = false

    @Option(help: ArgumentHelp("Refuse a sealed file whose encryption context is not exactly these pairs (repeat for each).", valueName: "key=value"))
    var expectContext: [String] = []

    @Option(help: ArgumentHelp("Refuse a sealed file whose data key is not wrapped under this key (key ID, key ARN, alias name or alias ARN).", valueName: "key"))
    var expectKey: String?

    @Option(help: "Values shorter than this many bytes are not scrubbed by --redact.")
    var minLength = RedactionPatterns.defaultMinimumLength

    @Option(help: ArgumentHelp("Give CMD each sealed variable NAME as a file in a private folder made in DIR, its path in NAME_FILE, instead of the value.", valueName: "DIR"))
    var asFiles: String?

    @Flag(help: "With --as-files, accept a DIR that is not on tmpfs or ramfs.")
    var allowDisk = false

    @Option(parsing: .upToNextOption, help: "Lambda-helper mode: the variables holding KMS ciphertexts (with --function).")
    var lambdaVariables: [String] = []

    @Option(help: "Lambda-helper mode: the function name bound into each value (default: AWS_LAMBDA_FUNCTION_NAME).")
    var function: String?

    @OptionGroup var recovery: RecoveryKeyOptions
    @OptionGroup var service: KeyServiceOptions

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command to run after --, e.g. envseal exec --file .env.sealed -- node app.js") }
        guard minLength >= 1 else { throw ValidationError("--min-length must be at least 1") }
        if !expectContext.isEmpty {
            do {
                _ = try ContextArgument.parse(expectContext, option: "--expect-context")
            } catch let error as CLIError {
                throw ValidationError(error.message)
            }
        }
        if let expectKey, expectKey.isEmpty { throw ValidationError("--expect-key needs a key ID, ARN or alias") }
        if let asFiles, asFiles.isEmpty { throw ValidationError("--as-files needs a folder, e.g. /dev/shm") }
        if allowDisk, asFiles == nil { throw ValidationError("--allow-disk goes with --as-files") }
        try recovery.validate(with: service)
    }

    func run() async throws {
        let environment = ProcessEnvironment.variables()
        try await options.run(environment: environment) { try await recovery.connect(or: service, for: file, environment: environment) }
    }

    /// The parsed options as plain values.
    var options: ExecOptions {
        ExecOptions(file: file, redact: redact, pristine: pristine, strict: strict, minLength: minLength,
                    lambdaVariables: lambdaVariables, function: function, allowUnsealed: allowUnsealed,
                    expectContext: expectContext, expectKey: expectKey, asFiles: asFiles, allowDisk: allowDisk, command: command)
    }
}

// The redactor already has `filter(_:)` and `finish()`; EnvSeal does not depend on ChildProcess.
extension Redactor: OutputFilter {}
