import EnvSealFormat
import Foundation
import KMSClient
import KMSWire
import SealedDotenv
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
        /// A sealed dotenv file.
        case file(String)

        var isProcessEnvironment: Bool {
            if case .processEnvironment = self { true } else { false }
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

        /// Creates options.
        public init(maxAge: Duration = .seconds(300), lambdaVariables: [String] = [], functionName: String? = nil) {
            self.maxAge = maxAge
            self.lambdaVariables = lambdaVariables
            self.functionName = functionName
        }
    }

    /// The opened values, by name.
    public let secrets: [String: Secret<String>]
    /// Every other variable of the source (the header excluded), as it stands.
    public let plain: [String: String]
    /// The ARN of the master key, as the key service reported it (`nil` in lambda-helper mode).
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
    ///   - options: Cache age and lambda-helper mode.
    /// - Returns: The opened environment.
    /// - Throws: ``LoadError`` naming the variable and the cause; nothing is returned half-opened.
    public static func load(
        from source: Source = .processEnvironment, provider: (any DataKeyProvider)? = nil, options: Options = .init()
    ) async throws(LoadError) -> SealedEnvironment {
        let variables = try readVariables(source)
        let key = options.maxAge > .zero ? cacheKey(variables, options: options) : nil
        if let key, let cached = cache.fresh(key, maxAge: options.maxAge, variables: variables) { return cached }
        let opened: SealedEnvironment
        do {
            // The key service is configured from the process environment: `variables` when they were read from it.
            let sealer = SealedFile(provider: try provider ?? defaultProvider(
                environment: source.isProcessEnvironment ? variables : ProcessEnvironment.variables()))
            if variables[SealedFileHeader.variableName] != nil {
                let file = try await sealer.open(environment: variables)
                var secrets: [String: Secret<String>] = [:]
                for (name, bytes) in file.values {
                    guard let secret = Secret<String>(secureBytes: bytes) else {
                        throw LoadError(.malformed, variable: name, "the value of \(name) is not UTF-8 text")
                    }
                    secrets[name] = secret
                }
                let plain = variables.filter { secrets[$0.key] == nil && $0.key != SealedFileHeader.variableName }
                opened = SealedEnvironment(secrets: secrets, plain: plain, keyARN: file.keyARN)
            } else if !options.lambdaVariables.isEmpty {
                guard let function = options.functionName ?? variables["AWS_LAMBDA_FUNCTION_NAME"] ?? ProcessEnvironment.variables()["AWS_LAMBDA_FUNCTION_NAME"] else {
                    throw LoadError(.notConfigured, variable: nil, "lambda-helper mode needs a function name: set AWS_LAMBDA_FUNCTION_NAME or Options.functionName")
                }
                let values = try await sealer.openLambda(environment: variables, names: options.lambdaVariables, functionName: function)
                var secrets: [String: Secret<String>] = [:]
                for (name, bytes) in values {
                    guard let secret = Secret<String>(secureBytes: bytes) else {
                        throw LoadError(.malformed, variable: name, "the value of \(name) is not UTF-8 text")
                    }
                    secrets[name] = secret
                }
                opened = SealedEnvironment(secrets: secrets, plain: variables.filter { secrets[$0.key] == nil }, keyARN: nil)
            } else {
                throw LoadError(.notSealed, variable: nil, "no \(SealedFileHeader.variableName) header and no lambda-mode variables named: nothing is sealed")
            }
        } catch let error as LoadError {
            throw error
        } catch {
            throw LoadError(describing: error)
        }
        if let key { cache.store(opened, for: key, watching: watchedVariables(variables, options: options)) }
        return opened
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
                throw LoadError(.malformed, variable: nil, "\(path):\(error.line):\(error.column): \(error.kind)")
            }
            if let duplicate = file.duplicateNames().first {
                throw LoadError(.malformed, variable: duplicate, "\(path): variable \(duplicate) is assigned more than once")
            }
            var variables: [String: String] = [:]
            for assignment in file.assignments { variables[assignment.name] = assignment.value }
            return variables
        }
    }

    static func defaultProvider(environment: [String: String]) throws -> any DataKeyProvider {
        let configuration = try KMSClientConfiguration.resolve(environment: environment)
        return KMSDataKeyProvider(client: KMSClient(transport: HTTPKMSTransport(configuration: configuration)))
    }

    /// The cache key: the header (which MACs every sealed and covered variable), or the
    /// lambda-mode function and variable names, hashed. Whether the variables still hold what the
    /// entry was opened from is checked against the entry (see ``watchedVariables(_:options:)``),
    /// so a warm load neither parses the header nor hashes every value.
    static func cacheKey(_ variables: [String: String], options: Options) -> [UInt8] {
        let parts: [String]
        if let header = variables[SealedFileHeader.variableName] {
            parts = ["envelope", header]
        } else {
            parts = ["lambda", options.functionName ?? variables["AWS_LAMBDA_FUNCTION_NAME"] ?? ""] + options.lambdaVariables.sorted()
        }
        return SHA256.hash(Array(parts.joined(separator: "\u{0}").utf8))
    }

    /// The variables an opened environment depends on, with their values then: in envelope mode
    /// every variable the header lists and every other one that looks sealed (one added later
    /// must not go unnoticed); in lambda mode the ciphertext variables. Other variables (Lambda's
    /// per-invocation trace ID, say) may change between warm invocations without reopening anything.
    static func watchedVariables(_ variables: [String: String], options: Options) -> EnvironmentCache.Watched {
        if let text = variables[SealedFileHeader.variableName] {
            var values: [String: String] = [:]
            if let header = try? SealedFileHeader(parsing: text) {
                let covered = SealedFileHeader.Variables(environment: variables, header: header)
                values = covered.sealed.merging(covered.covered) { sealed, _ in sealed }
            }
            return .init(values: values, sealedLooking: variables.values.count(where: SealedValue.isSealed))
        }
        var values: [String: String] = [:]
        for name in options.lambdaVariables { values[name] = variables[name] }
        return .init(values: values, sealedLooking: nil)
    }

    static let cache = EnvironmentCache()
}

/// Opened environments by cache key, with the time each was opened and the variables it was
/// opened from.
final class EnvironmentCache: Sendable {
    /// The variables an entry depends on (see ``SealedEnvironment/watchedVariables(_:options:)``).
    struct Watched: Sendable {
        /// Name and value of each watched variable when the entry was opened.
        let values: [String: String]
        /// In envelope mode, how many variables looked sealed: one more means a sealed variable
        /// was added, which opening must refuse.
        let sealedLooking: Int?

        /// Whether `variables` still hold what the entry was opened from.
        func match(_ variables: [String: String]) -> Bool {
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
