public import EnvSealFormat
import Foundation
import KMSClient
import KMSWire
public import SealedDotenv
import SodiumKit
import Synchronization

/// A function's sealed environment, opened: the sealed values as ``Secret``s, and the plain ones.
///
/// ``load(from:provider:options:)`` reads the process environment (or variables or a file you
/// pass), finds the `ENVSEAL` header, makes **one** Decrypt call for the file's data key, verifies
/// the header's MAC over every sealed and covered variable, and opens every value locally. In
/// lambda-helper mode (no header, ``Options/lambdaVariables`` named) it makes one Decrypt per
/// value, all at once. Results are cached for warm invocations, for ``Options/maxAge``.
///
/// A *file* is held to more than an environment: every variable in it must be covered by the
/// header (a variable added to a sealed file, `LD_PRELOAD` say, is tampering), and a file without
/// a header is refused unless ``Options/allowUnsealed`` says otherwise. In an environment the
/// platform's own variables are not covered, and are handed out as ``plain``. Either way a value
/// that looks sealed (`es1:`) must be listed in a header. ``Options/expectedContext`` and
/// ``Options/expectedKey`` pin which sealed file is acceptable.
///
/// ```swift
/// let environment = try await SealedEnvironment.load()
/// let password = environment["DB_PASSWORD"]!          // Secret<String>
/// connect(password: password.revealed())
/// ```
public struct SealedEnvironment: Sendable {
    /// Where the variables come from.
    public enum Source: Sendable {
        /// This process's environment.
        case processEnvironment
        /// Variables you pass (an event's payload, a test's dictionary).
        case variables([String: String])
        /// A sealed dotenv file, by path.
        case file(String)
        /// A sealed dotenv file already read; held to the same rules as ``file(_:)``.
        case dotenv(DotenvFile)

        var isProcessEnvironment: Bool {
            if case .processEnvironment = self { true } else { false }
        }

        /// Whether the variables are a file's, all of which a header must cover.
        var isFile: Bool {
            switch self {
            case .file, .dotenv: true
            case .processEnvironment, .variables: false
            }
        }
    }

    /// How to load.
    public struct Options: Sendable {
        /// How long an opened environment is reused by later loads of the same variables.
        /// Zero turns the cache off.
        public var maxAge: Duration
        /// In lambda-helper mode: the variables that hold KMS ciphertexts. Ignored when the
        /// environment has an `ENVSEAL` header.
        public var lambdaVariables: [String]
        /// In lambda-helper mode: the function name bound into each value (default: the
        /// `AWS_LAMBDA_FUNCTION_NAME` variable).
        public var functionName: String?
        /// Accept input without an `ENVSEAL` header: its variables are handed out as ``plain``,
        /// unauthenticated (what `envseal exec --allow-unsealed` asks for). A value that looks
        /// sealed (`es1:`) is refused all the same, and so, in a file, is a variable added to a
        /// sealed one. In lambda-helper mode it lets a file hold variables other than
        /// ``lambdaVariables``; without it they are refused, since nothing authenticates them.
        public var allowUnsealed: Bool
        /// The exact encryption context the header must name, or `nil` for any. A file sealed
        /// with another context (another app's, another stage's) is refused as tampering, before
        /// the key service is asked.
        public var expectedContext: [String: String]?
        /// The master key that must have wrapped the data key, as key ID, key ARN, alias name or
        /// alias ARN; `nil` for any. It is passed to Decrypt as `KeyId`, so the key service
        /// refuses a data key of another key (resolving an alias to the key it names at that
        /// moment), and a key ID or ARN is also compared with the ARN the key service reports.
        public var expectedKey: String?
        /// A recovery key file (`envseal recovery keygen`) to open the environment with, instead of
        /// any key service; `nil` for the `ENVSEAL_RECOVERY_KEY_FILE` variable, if set.
        ///
        /// With a recovery key, the data key comes from the header's slot for the key's recipient
        /// and **no key service is configured or called**: no credentials are needed, no policy
        /// applies, and the key service's audit log cannot record the open. A passphrase-protected
        /// file takes its passphrase from `ENVSEAL_RECOVERY_PASSPHRASE` (Argon2id, about a second).
        /// A header without a slot for the key is refused with ``LoadError/Cause/recoveryKey``.
        public var recoveryKeyFile: String?
        /// Recovery key pairs already unlocked (the CLI's, after asking for a passphrase on the
        /// terminal); used before ``recoveryKeyFile``.
        package var recoveryIdentities: [RecoveryIdentity] = []

        /// Creates options.
        public init(
            maxAge: Duration = .seconds(300), lambdaVariables: [String] = [], functionName: String? = nil,
            allowUnsealed: Bool = false, expectedContext: [String: String]? = nil, expectedKey: String? = nil,
            recoveryKeyFile: String? = nil
        ) {
            self.maxAge = maxAge
            self.lambdaVariables = lambdaVariables
            self.functionName = functionName
            self.allowUnsealed = allowUnsealed
            self.expectedContext = expectedContext
            self.expectedKey = expectedKey
            self.recoveryKeyFile = recoveryKeyFile
        }

        /// The pins as the sealed-file code takes them.
        func expectation() throws(LoadError) -> SealedFile.Expectation {
            do {
                return SealedFile.Expectation(context: try expectedContext.map { try EncryptionContext($0) }, keyID: expectedKey)
            } catch {
                throw LoadError(.notConfigured, variable: nil, "the expected context: \(error)")
            }
        }
    }

    /// The opened values, by name.
    public let secrets: [String: Secret<String>]
    /// Every other variable of the source (the header excluded), as it stands.
    public let plain: [String: String]
    /// The ARN of the master key whose slot opened the file, as the key service reported it (`nil`
    /// in lambda-helper mode, or when a recovery key opened it).
    public let keyARN: String?

    /// The secret named `name`, if it was sealed.
    public subscript(name: String) -> Secret<String>? { secrets[name] }

    /// The environment a child process should get: plain variables and every secret's plaintext,
    /// without the header. The plaintexts leave guarded memory here; use it only to start a
    /// process (as `envseal exec` does).
    public func plaintextEnvironment() -> [String: String] {
        var environment = plain
        for (name, secret) in secrets { environment[name] = secret.revealed() }
        return environment
    }

    /// Loads and opens a sealed environment.
    /// - Parameters:
    ///   - source: Where the variables are (default: the process environment).
    ///   - provider: Who unwraps the data key; default: a KMS client configured from the standard
    ///     AWS variables (`AWS_ENDPOINT_URL_KMS`, `AWS_REGION`, credentials), as in a function.
    ///     Not used at all when a recovery key is given (``Options/recoveryKeyFile``).
    ///   - options: Cache age, lambda-helper mode, pins and a recovery key.
    /// - Returns: The opened environment.
    /// - Throws: ``LoadError`` naming the variable and the cause; nothing is returned half-opened.
    public static func load(
        from source: Source = .processEnvironment, provider: (any DataKeyProvider)? = nil, options: Options = .init()
    ) async throws(LoadError) -> SealedEnvironment {
        let variables = try readVariables(source)
        let expectation = try options.expectation()
        // The key service and a recovery key are configured from the process environment:
        // `variables` when they were read from it.
        let processEnvironment = source.isProcessEnvironment ? variables : ProcessEnvironment.variables()
        let recoveryFile = options.recoveryKeyFile ?? processEnvironment[RecoveryKeyLoading.fileVariable].flatMap { $0.isEmpty ? nil : $0 }
        let recoveryTag = options.recoveryIdentities.isEmpty ? recoveryFile.map { "recovery key file " + $0 } : "recovery identities "
            + options.recoveryIdentities.map(\.recipientText).joined(separator: " ")
        let key = options.maxAge > .zero
            ? cacheKey(variables, options: options, expectation: expectation, file: source.isFile, recovery: recoveryTag) : nil
        if let key, let cached = cache.fresh(key, maxAge: options.maxAge, variables: variables) { return cached }
        var identities = options.recoveryIdentities
        if identities.isEmpty, let recoveryFile {
            identities = [try RecoveryKeyLoading.identity(file: recoveryFile, environment: processEnvironment)]
        }
        let opened: SealedEnvironment
        do {
            func sealer() throws -> SealedFile {
                // A recovery key opens without any key service: none is configured or called.
                guard identities.isEmpty else { return .offline(identities) }
                return SealedFile(provider: try provider ?? defaultProvider(environment: processEnvironment))
            }
            if variables[SealedFileHeader.variableName] != nil {
                try SealedFile.requireRecipientSlot(in: variables[SealedFileHeader.variableName], for: identities)
                let file = try await sealer().open(
                    environment: variables, coverage: source.isFile ? .everyVariable : .listedVariables, expecting: expectation)
                var secrets: [String: Secret<String>] = [:]
                for (name, bytes) in file.values {
                    guard let secret = Secret<String>(secureBytes: bytes) else {
                        throw LoadError(.malformed, variable: name, "the value of \(name) is not UTF-8 text")
                    }
                    secrets[name] = secret
                }
                let plain = variables.filter { secrets[$0.key] == nil && $0.key != SealedFileHeader.variableName }
                opened = SealedEnvironment(secrets: secrets, plain: plain, keyARN: file.keyARN)
            } else {
                // No header: nothing can verify a sealed-looking value, nor the file's or context's pins.
                if let name = variables.keys.sorted().first(where: { SealedValue.isSealed(variables[$0]!) }) {
                    throw SealedFileError(.sealedValueWithoutHeader(name: name))
                }
                guard expectation.isEmpty else {
                    throw LoadError(.notSealed, variable: nil, "no \(SealedFileHeader.variableName) header: the expected context or key cannot be checked")
                }
                if !options.lambdaVariables.isEmpty {
                    opened = try await loadLambda(variables, file: source.isFile, sealer: sealer(), options: options)
                } else if options.allowUnsealed {
                    return SealedEnvironment(secrets: [:], plain: variables, keyARN: nil)
                } else {
                    throw LoadError(.notSealed, variable: nil, "no \(SealedFileHeader.variableName) header and no lambda-mode variables named: nothing is sealed")
                }
            }
        } catch let error as LoadError {
            throw error
        } catch {
            throw LoadError(describing: error)
        }
        if let key { cache.store(opened, for: key, watching: watchedVariables(variables, options: options, file: source.isFile)) }
        return opened
    }

    /// Lambda-helper mode: one Decrypt per named variable. In a file every other variable is
    /// unauthenticated, so it is refused unless unsealed input is allowed.
    static func loadLambda(_ variables: [String: String], file: Bool, sealer: SealedFile, options: Options) async throws -> SealedEnvironment {
        guard let function = options.functionName ?? variables["AWS_LAMBDA_FUNCTION_NAME"] ?? ProcessEnvironment.variables()["AWS_LAMBDA_FUNCTION_NAME"] else {
            throw LoadError(.notConfigured, variable: nil, "lambda-helper mode needs a function name: set AWS_LAMBDA_FUNCTION_NAME or Options.functionName")
        }
        if file, !options.allowUnsealed {
            let named = Set(options.lambdaVariables)
            if let name = variables.keys.sorted().first(where: { !named.contains($0) }) {
                throw LoadError(.tampered, variable: name,
                                "variable \(name) is not one of the lambda-mode variables, so nothing authenticates it")
            }
        }
        let values = try await sealer.openLambda(environment: variables, names: options.lambdaVariables, functionName: function)
        var secrets: [String: Secret<String>] = [:]
        for (name, bytes) in values {
            guard let secret = Secret<String>(secureBytes: bytes) else {
                throw LoadError(.malformed, variable: name, "the value of \(name) is not UTF-8 text")
            }
            secrets[name] = secret
        }
        return SealedEnvironment(secrets: secrets, plain: variables.filter { secrets[$0.key] == nil }, keyARN: nil)
    }

    /// Forgets every cached environment (their plaintexts are zeroed when the last copy goes).
    public static func clearCache() { cache.clear() }

    // MARK: - Internals

    static func readVariables(_ source: Source) throws(LoadError) -> [String: String] {
        switch source {
        case .processEnvironment:
            return ProcessEnvironment.variables()
        case .variables(let variables):
            return variables
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw LoadError(.unreadable, variable: nil, "cannot read \(path)")
            }
            let file: DotenvFile
            do {
                file = try DotenvFile.parse(Array(data))
            } catch {
                throw LoadError(ErrorClassification(error).kind, variable: nil, "\(path):\(error.line):\(error.column): \(error.kind)")
            }
            return try variables(of: file, place: "\(path): ")
        case .dotenv(let file):
            return try variables(of: file, place: "")
        }
    }

    static func variables(of file: DotenvFile, place: String) throws(LoadError) -> [String: String] {
        if let duplicate = file.duplicateNames().first {
            throw LoadError(.malformed, variable: duplicate, "\(place)variable \(duplicate) is assigned more than once")
        }
        var variables: [String: String] = [:]
        for assignment in file.assignments { variables[assignment.name] = assignment.value }
        return variables
    }

    static func defaultProvider(environment: [String: String]) throws -> any DataKeyProvider {
        let configuration = try KMSClientConfiguration.resolve(environment: environment)
        return KMSDataKeyProvider(client: KMSClient(transport: HTTPKMSTransport(configuration: configuration)))
    }

    /// The cache key: the header (which MACs every sealed and covered variable), or the
    /// lambda-mode function and variable names, hashed, with what the load was held to (a file's
    /// coverage, the pins, unsealed input allowed). Whether the variables still hold what the
    /// entry was opened from is checked against the entry (see
    /// ``watchedVariables(_:options:file:)``), so a warm load neither parses the header nor hashes
    /// every value.
    static func cacheKey(
        _ variables: [String: String], options: Options, expectation: SealedFile.Expectation, file: Bool, recovery: String?
    ) -> [UInt8] {
        var parts: [String]
        if let header = variables[SealedFileHeader.variableName] {
            parts = ["envelope", header]
        } else {
            parts = ["lambda", options.functionName ?? variables["AWS_LAMBDA_FUNCTION_NAME"] ?? ""] + options.lambdaVariables.sorted()
        }
        parts += [file ? "file" : "environment", options.allowUnsealed ? "unsealed allowed" : "sealed only",
                  expectation.context.map { "context " + Base64URL.encode($0.canonicalBytes) } ?? "any context",
                  expectation.keyID.map { "key " + $0 } ?? "any key", recovery ?? "key service"]
        return SHA256.hash(Array(parts.joined(separator: "\u{0}").utf8))
    }

    /// The variables an opened environment depends on, with their values then: from a file,
    /// every variable (one added later must be refused); in envelope mode every variable the
    /// header lists and every other one that looks sealed (one added later must not go
    /// unnoticed); in lambda mode the ciphertext variables. Other variables of an environment
    /// (Lambda's per-invocation trace ID, say) may change between warm invocations without
    /// reopening anything.
    static func watchedVariables(_ variables: [String: String], options: Options, file: Bool) -> EnvironmentCache.Watched {
        if file { return .init(values: variables, sealedLooking: nil, exactly: true) }
        if let text = variables[SealedFileHeader.variableName] {
            var values: [String: String] = [:]
            if let header = try? SealedFileHeader(parsing: text) {
                let covered = SealedFileHeader.Variables(environment: variables, header: header)
                values = covered.sealed.merging(covered.covered) { sealed, _ in sealed }
            }
            return .init(values: values, sealedLooking: variables.values.count(where: SealedValue.isSealed), exactly: false)
        }
        var values: [String: String] = [:]
        for name in options.lambdaVariables { values[name] = variables[name] }
        return .init(values: values, sealedLooking: nil, exactly: false)
    }

    static let cache = EnvironmentCache()
}

/// Opened environments by cache key, with the time each was opened and the variables it was
/// opened from.
final class EnvironmentCache: Sendable {
    /// The variables an entry depends on (see ``SealedEnvironment/watchedVariables(_:options:file:)``).
    struct Watched: Sendable {
        /// Name and value of each watched variable when the entry was opened.
        let values: [String: String]
        /// In envelope mode, how many variables looked sealed: one more means a sealed variable
        /// was added, which opening must refuse.
        let sealedLooking: Int?
        /// Whether `values` are every variable (a file's), so that any other is a change.
        let exactly: Bool

        /// Whether `variables` still hold what the entry was opened from.
        func match(_ variables: [String: String]) -> Bool {
            if exactly { return variables == values }
            guard values.allSatisfy({ variables[$0.key] == $0.value }) else { return false }
            guard let sealedLooking else { return true }
            return variables.values.count(where: SealedValue.isSealed) == sealedLooking
        }
    }

    private let entries = Mutex<[[UInt8]: (SealedEnvironment, ContinuousClock.Instant, Watched)]>([:])

    /// The entry for `key` if it is younger than `maxAge` and `variables` still hold what it was
    /// opened from; an entry too old is dropped.
    func fresh(_ key: [UInt8], maxAge: Duration, variables: [String: String]) -> SealedEnvironment? {
        entries.withLock { entries in
            guard let (environment, opened, watched) = entries[key] else { return nil }
            guard ContinuousClock.now - opened < maxAge else {
                entries[key] = nil
                return nil
            }
            return watched.match(variables) ? environment : nil
        }
    }

    func store(_ environment: SealedEnvironment, for key: [UInt8], watching watched: Watched) {
        entries.withLock { $0[key] = (environment, ContinuousClock.now, watched) }
    }

    func clear() { entries.withLock { $0.removeAll() } }
}

extension SealedEnvironment {
    /// The patterns that scrub this environment's secrets (and their encodings) from logs and
    /// output; values shorter than `minimumLength` are left out and named in
    /// ``RedactionPatterns/skippedNames``.
    ///
    /// ```swift
    /// RedactingLogHandler.bootstrap(patterns: try environment.redactionPatterns())
    /// ```
    /// - Parameters:
    ///   - minimumLength: The shortest value scrubbed, in bytes.
    ///   - marker: What each secret is replaced with.
    /// - Returns: The compiled patterns.
    /// - Throws: `SodiumError` when guarded memory cannot be had.
    public func redactionPatterns(
        minimumLength: Int = RedactionPatterns.defaultMinimumLength, marker: RedactionMarker = .standard
    ) throws -> RedactionPatterns {
        try RedactionPatterns(secrets: secrets, minimumLength: minimumLength, marker: marker)
    }
}
