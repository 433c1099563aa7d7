import ChildProcess
import EnvSeal
import EnvSealFormat
import Foundation
import KMSClient
import SealedDotenv

/// What `envseal exec` was asked to do, as plain values, and doing it.
///
/// ArgumentParser fills these from ``ExecCommand``; ``FastExecArguments`` fills them for the plain
/// forms a function starts with, without building a parser at all.
struct ExecOptions: Equatable, Sendable {
    var file: String?
    var redact = false
    var pristine = false
    var strict = false
    var minLength = RedactionPatterns.defaultMinimumLength
    var lambdaVariables: [String] = []
    var function: String?
    var allowUnsealed = false
    /// `--expect-context` pairs as given (`key=value`).
    var expectContext: [String] = []
    var expectKey: String?
    /// `--as-files`: the folder in which to make the private folder of secret files.
    var asFiles: String?
    var allowDisk = false
    var command: [String] = []

    /// Opens the sealed environment and runs the command with it: replaced by it, or (with
    /// `redact` or `asFiles`) as its parent until it ends, then exits as it did. With `asFiles`,
    /// each sealed variable `NAME` is given as a file, its path in `NAME_FILE`.
    /// - Parameters:
    ///   - ownEnvironment: envseal's own environment.
    ///   - connect: The key service, asked for only when something is sealed.
    func run(environment ownEnvironment: [String: String], connect: () async throws -> KeyServiceConnection) async throws -> Never {
        do {
            try ProcessHardening.disableCoreDumps()
        } catch {
            warn("core dumps could not be disabled: \(error)")
        }
        var environment = ownEnvironment
        var secrets: [String: Secret<String>] = [:]
        let expectedContext = try expectContext.isEmpty ? nil : ContextArgument.parse(expectContext, option: "--expect-context").dictionary
        let dotenv = try file.map(Self.dotenv(inFile:))
        let sources = dotenv.map { Dictionary($0.assignments.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last }) } ?? ownEnvironment
        let isSealed = sources[SealedFileHeader.variableName] != nil || !lambdaVariables.isEmpty
        if isSealed {
            let connection = try await connect()
            let opened: SealedEnvironment
            do {
                var loading = SealedEnvironment.Options(
                    maxAge: .zero, lambdaVariables: lambdaVariables, functionName: function, allowUnsealed: allowUnsealed,
                    expectedContext: expectedContext, expectedKey: expectKey)
                // `--recovery-key`: opened from the recipient slot, with no key service.
                loading.recoveryIdentities = connection.recoveryIdentities
                opened = try await SealedEnvironment.load(
                    from: dotenv.map { .dotenv($0) } ?? .variables(sources), provider: KMSDataKeyProvider(client: connection.client),
                    options: loading)
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
        } else {
            let place = file ?? "the environment"
            // Nothing can verify a sealed-looking value without its header: it was removed.
            if let name = sources.keys.sorted().first(where: { SealedValue.isSealed(sources[$0]!) }) {
                throw CLIError("\(place): \(SealedFileError(.sealedValueWithoutHeader(name: name)))",
                               hint: "restore the file from version control", exitCode: EnvSealExit.tampered)
            }
            if strict {
                throw CLIError("\(place): nothing is sealed (no \(SealedFileHeader.variableName) header)",
                               hint: "seal it with `envseal encrypt`, or drop --strict", exitCode: EnvSealExit.malformedInput)
            }
            if expectedContext != nil || expectKey != nil {
                throw CLIError("\(place): no \(SealedFileHeader.variableName) header, so --expect-context and --expect-key cannot be checked",
                               exitCode: EnvSealExit.malformedInput)
            }
            if let file {
                guard allowUnsealed else {
                    throw CLIError("\(file): the file has no \(SealedFileHeader.variableName) header: nothing authenticates its values",
                                   hint: "seal it with `envseal encrypt`, or pass --allow-unsealed to run with its values as they are",
                                   exitCode: EnvSealExit.malformedInput)
                }
                environment = pristine ? sources : ownEnvironment.merging(sources) { _, new in new }
            }
        }
        environment[SealedFileHeader.variableName] = nil
        if strict, let name = environment.first(where: { SealedValue.isSealed($0.value) })?.key {
            throw CLIError("variable \(name) still holds a sealed value after opening", exitCode: EnvSealExit.tampered)
        }

        var files: SecretFiles?
        if let asFiles {
            let names = secrets.keys.sorted()
            if let taken = names.first(where: { sources[$0 + "_FILE"] != nil || environment[$0 + "_FILE"] != nil }) {
                throw CLIError("\(taken)_FILE is already set (in \(sources[taken + "_FILE"] != nil ? file ?? "the environment" : "the environment")): --as-files would replace it",
                               hint: "remove or rename \(taken)_FILE", exitCode: EnvSealExit.malformedInput)
            }
            let folder = try SecretFiles(parent: asFiles, allowDisk: allowDisk)
            files = folder
            do {
                for name in names {
                    environment[name + "_FILE"] = try folder.write(name: name, secret: secrets[name]!)
                    environment[name] = nil
                }
            } catch {
                folder.destroy()
                throw error
            }
        }
        guard redact else {
            if let files {
                // envseal stays the parent, to remove the folder when CMD ends.
                var out = PassThroughFilter(), err = PassThroughFilter()
                let termination: Termination
                do {
                    termination = try ChildProcess.supervise(command: command, environment: environment, stdout: &out, stderr: &err)
                } catch {
                    files.destroy()
                    throw Self.cliError(error)
                }
                files.destroy()
                Foundation.exit(termination.exitCode)
            }
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
        // An empty value has nothing to scrub; the short ones are named in one line.
        let short = patterns.skippedNames.filter { (secrets[$0]?.byteCount ?? 0) > 0 }
        if !short.isEmpty {
            warn("not redacted, shorter than \(minLength) bytes (--min-length): \(short.joined(separator: ", "))")
        }
        var out = patterns.makeRedactor()
        var err = patterns.makeRedactor()
        let termination: Termination
        do {
            termination = try ChildProcess.supervise(command: command, environment: environment, stdout: &out, stderr: &err)
        } catch {
            files?.destroy()
            throw Self.cliError(error)
        }
        files?.destroy()
        Foundation.exit(termination.exitCode)
    }

    /// A sealed dotenv file, refused when a name is assigned twice.
    private static func dotenv(inFile path: String) throws -> DotenvFile {
        let dotenv = try FileIO.readDotenv(path)
        if let duplicate = dotenv.duplicateNames().first {
            throw CLIError("\(path): variable \(duplicate) is assigned more than once", exitCode: EnvSealExit.malformedInput)
        }
        return dotenv
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
        let hint = switch error.classification {
        case .tampered: place.map { _ in "the file was changed or replaced after sealing; restore it from version control" }
        default: ErrorReport.hint(for: error.classification, keyServiceErrorType: error.keyServiceErrorType)
        }
        return CLIError(prefix + error.message, hint: hint, exitCode: EnvSealExit.code(for: error.classification))
    }
}

/// `envseal exec` as a function starts it — `[--file F] [--redact] [--pristine] [--strict]
/// [--allow-unsealed] [--expect-context K=V]… [--expect-key KEY] [--min-length N]
/// [--function NAME] [--endpoint URL] [--profile P] [--region R] -- CMD ARGS…`, with a KMS
/// endpoint from `--endpoint` or the environment — parsed by hand.
///
/// `exec` starts every invocation of a function, and ArgumentParser spends about 5 ms of the
/// 33 ms of `envseal exec` building its parser (reflecting on the command's properties, looking up
/// the protocol conformances of their wrapper types). Anything outside these forms — help, a
/// repeated or unknown option, a value that looks like an option, `--lambda-variables`, the
/// embedded key store — is `nil`, and goes through ArgumentParser with its messages and checks. A
/// test holds the two to the same result on every form this accepts.
struct FastExecArguments: Equatable {
    var options = ExecOptions()
    var endpoint: String?
    var profile: String?
    var region: String?

    /// - Parameters:
    ///   - arguments: What follows `exec`.
    ///   - environment: envseal's environment, which may name the KMS endpoint.
    init?(_ arguments: [String], environment: [String: String]) {
        var seen: Set<String> = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                options.command = Array(arguments[index...])
                break
            }
            var name = argument
            var value: String?
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            // --expect-context is the one option given once per pair.
            guard seen.insert(name).inserted || name == "--expect-context" else { return nil }
            switch name {
            case "--redact", "--pristine", "--strict", "--allow-unsealed":
                guard value == nil else { return nil }
                switch name {
                case "--redact": options.redact = true
                case "--pristine": options.pristine = true
                case "--allow-unsealed": options.allowUnsealed = true
                default: options.strict = true
                }
                continue
            case "--file", "--min-length", "--function", "--endpoint", "--profile", "--region", "--expect-context", "--expect-key":
                if value == nil, index < arguments.endIndex {
                    value = arguments[index]
                    index += 1
                }
            default:
                return nil
            }
            guard let value, !value.isEmpty, !value.hasPrefix("-") else { return nil }
            switch name {
            case "--file": options.file = value
            case "--min-length":
                guard let length = Int(value), length >= 1 else { return nil }
                options.minLength = length
            case "--function": options.function = value
            case "--expect-context": options.expectContext.append(value)
            case "--expect-key": options.expectKey = value
            case "--endpoint": endpoint = value
            case "--profile": profile = value
            default: region = value
            }
        }
        guard !options.command.isEmpty else { return nil }
        // A bad pair gets ArgumentParser's usage message.
        if !options.expectContext.isEmpty {
            guard (try? ContextArgument.parse(options.expectContext, option: "--expect-context")) != nil else { return nil }
        }
        guard endpoint != nil || KMSClientConfiguration.endpointIsConfigured(in: environment) else { return nil }
    }

    /// Runs the exec against the KMS endpoint.
    func run(environment: [String: String]) async throws -> Never {
        try await options.run(environment: environment) {
            let spec = endpoint.map { EndpointSpec($0) ?? EndpointSpec(profile: nil, endpoint: $0) }
            return try KeyServiceOptions.remote(endpoint: spec?.endpoint, region: region, profile: spec?.profile ?? profile, environment: environment)
        }
    }
}
