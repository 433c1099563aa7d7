package import ArgumentParser
import Foundation
import KMSClient
import Synchronization

/// The `envseal` command: its subcommands, and the one place errors are printed.
package struct EnvSealCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "envseal",
        abstract: "Keep a function's secrets sealed in its environment variables.",
        discussion: """
        Without --endpoint or AWS_ENDPOINT_URL(_KMS), commands use the embedded key store in \
        --keystore (default ./KeyStore); with them, they are a KMS client (SigV4, AWS credentials). \
        Without any of the three, a command on a file takes the key service of its creation rule \
        in .envseal.yaml (`envseal config show FILE` says which).

        Exit codes: 0 success, 1 failure, 51 tampered file, 52 wrong key or context, 53 key disabled \
        or deleted, 64 usage, 65 malformed input, 66 unreadable input, 69 key service unavailable, \
        73 cannot write, 77 access denied, 78 not configured (docs/CLI.md).
        """,
        version: EnvSealVersion.current,
        subcommands: [
            EncryptCommand.self, DecryptCommand.self, SetCommand.self, GetCommand.self, UnsetCommand.self, ExecCommand.self, KeysCommand.self,
            EditCommand.self, RotateCommand.self, RewrapCommand.self, VerifyCommand.self, InspectCommand.self,
            ServerCommand.self, PrincipalsCommand.self, AuditCommand.self, GitCommand.self, ScanCommand.self, ConfigCommand.self, RecoveryCommand.self,
        ]
    )

    package init() {}

    /// Parses the arguments, runs the command, prints errors in envseal's style and exits.
    package static func runMain(_ arguments: [String]? = nil) async -> Never {
        let arguments = arguments ?? Array(CommandLine.arguments.dropFirst())
        do {
            if arguments.first == ExecCommand.configuration.commandName {
                let environment = ProcessEnvironment.variables()
                if let exec = FastExecArguments(Array(arguments.dropFirst()), environment: environment) {
                    try await exec.run(environment: environment)
                }
            }
            var command = try parseExecDirectly(arguments) ?? parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            try FileIO.finishStandardOutput()
            Foundation.exit(EnvSealExit.success)
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("envseal: error: \(error.message)\n".utf8))
            if let hint = error.hint {
                FileHandle.standardError.write(Data("envseal: hint: \(hint)\n".utf8))
            }
            Foundation.exit(error.exitCode)
        } catch {
            UsageReport.exit(for: error, arguments: arguments)
        }
    }
}

extension EnvSealCommand {
    /// `envseal exec …` parsed as the exec command alone, without building the parser of every
    /// other command, for the forms ``FastExecArguments`` leaves to ArgumentParser: `exec` starts
    /// every invocation of a function, so its start-up is the one that counts. Anything that does
    /// not parse cleanly (help, a usage error) returns `nil` and goes through the whole tree, so
    /// messages are the same either way.
    static func parseExecDirectly(_ arguments: [String]) -> ExecCommand? {
        guard arguments.first == ExecCommand.configuration.commandName else { return nil }
        return try? ExecCommand.parseAsRoot(Array(arguments.dropFirst())) as? ExecCommand
    }
}

/// The version the CLI reports.
package enum EnvSealVersion {
    package static let current = "0.1.0"
}

/// Writes a warning to standard error, unless `--quiet` was given.
func warn(_ message: String) {
    guard !MessageOptions.isQuiet else { return }
    FileHandle.standardError.write(Data("envseal: warning: \(message)\n".utf8))
}

/// `--quiet`, which every command takes: no warnings, no progress; errors still print.
struct MessageOptions: ParsableArguments {
    @Flag(name: [.customShort("q"), .long], help: "Print no warnings and no progress; errors still print.")
    var quiet = false

    func validate() throws {
        if quiet { Self.quietFlag.store(true, ordering: .relaxed) }
    }

    /// Whether this process was asked to be quiet.
    static var isQuiet: Bool { quietFlag.load(ordering: .relaxed) }

    private static let quietFlag = Atomic<Bool>(false)
}
