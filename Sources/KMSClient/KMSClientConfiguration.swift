import Foundation
import KMSWire
import SodiumKit

/// Where a KMS client sends its requests, as whom, and how hard it tries.
///
/// Build one by hand, or let ``resolve(environment:endpoint:region:profile:)`` find everything
/// the way the AWS CLI and SDKs do, from the standard variables and the shared `config` and
/// `credentials` files.
///
/// ```swift
/// let configuration = try KMSClientConfiguration.resolve()
/// let client = KMSClient(transport: HTTPKMSTransport(configuration: configuration))
/// ```
public struct KMSClientConfiguration: Sendable {
    /// How often and how patiently a request is tried again.
    ///
    /// Between attempts the client sleeps a random time between zero and
    /// `min(maxDelay, baseDelay × 2^(retry − 1))` ("full jitter"), so that many clients throttled
    /// at once do not come back in step.
    public struct RetryPolicy: Sendable, Equatable {
        /// The most attempts per request, the first included; 1 never retries.
        public var maxAttempts: Int
        /// How long one attempt may take, from connecting to the last byte of the response.
        public var attemptTimeout: Duration
        /// The backoff ceiling before the first retry; it doubles for each retry after that.
        public var baseDelay: Duration
        /// The largest backoff ceiling.
        public var maxDelay: Duration

        /// Creates a policy.
        /// - Parameters:
        ///   - maxAttempts: The most attempts per request, the first included (at least 1).
        ///   - attemptTimeout: How long one attempt may take.
        ///   - baseDelay: The backoff ceiling before the first retry.
        ///   - maxDelay: The largest backoff ceiling.
        public init(
            maxAttempts: Int = 5, attemptTimeout: Duration = .seconds(5),
            baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(2)
        ) {
            self.maxAttempts = max(1, maxAttempts)
            self.attemptTimeout = attemptTimeout
            self.baseDelay = baseDelay
            self.maxDelay = maxDelay
        }

        /// Five attempts, 5 s each, backoff ceilings of 0.1, 0.2, 0.4 and 0.8 s.
        public static let standard = RetryPolicy()

        /// One attempt, no retry.
        public static let none = RetryPolicy(maxAttempts: 1)

        /// The backoff before retry number `retry` (1 for the second attempt).
        /// - Parameters:
        ///   - retry: Which retry this is, from 1.
        ///   - random: A number in `0...1`.
        /// - Returns: The time to sleep.
        func delay(beforeRetry retry: Int, random: Double) -> Duration {
            let ceiling = min(maxDelay, baseDelay * (1 << min(max(retry - 1, 0), 30)))
            return ceiling * min(max(random, 0), 1)
        }
    }

    /// The key service's URL: `https://kms.us-east-1.amazonaws.com`, `http://127.0.0.1:8417`.
    public let endpoint: URL
    /// The region requests are signed for.
    public let region: String
    /// Who signs the requests.
    public let credentials: SigV4Credentials
    /// How failed attempts are retried.
    public var retryPolicy: RetryPolicy
    /// How long a request may take in all, retries and backoff included.
    public var deadline: Duration

    /// Creates a configuration.
    /// - Parameters:
    ///   - endpoint: An `http` or `https` URL with a host and no query, fragment or user info.
    ///   - region: The signing region (letters, digits and `-`).
    ///   - credentials: The access key pair requests are signed with.
    ///   - retryPolicy: How failed attempts are retried.
    ///   - deadline: How long a request may take in all.
    /// - Throws: ``KMSTransportError`` of kind `.configuration` for a bad endpoint or region.
    public init(
        endpoint: String, region: String, credentials: SigV4Credentials,
        retryPolicy: RetryPolicy = .standard, deadline: Duration = .seconds(10)
    ) throws(KMSTransportError) {
        try self.init(endpoint: endpoint, endpointSource: "the endpoint", region: region, regionSource: "the region",
                      credentials: credentials, retryPolicy: retryPolicy, deadline: deadline)
    }

    private init(
        endpoint: String, endpointSource: String, region: String, regionSource: String,
        credentials: SigV4Credentials, retryPolicy: RetryPolicy, deadline: Duration
    ) throws(KMSTransportError) {
        self.region = try Self.validated(region: region, from: regionSource)
        self.endpoint = try Self.validated(endpoint: endpoint, from: endpointSource)
        self.credentials = credentials
        self.retryPolicy = retryPolicy
        self.deadline = deadline
    }

    // MARK: - Resolution

    /// Whether the environment names a key-service endpoint (`AWS_ENDPOINT_URL_KMS` or
    /// `AWS_ENDPOINT_URL`, not empty).
    ///
    /// The CLI asks this to choose between a remote key service and its embedded store.
    /// - Parameter environment: The variables to look at.
    /// - Returns: `true` when either variable is set.
    public static func endpointIsConfigured(
        in environment: [String: String] = ProcessEnvironment.variables()
    ) -> Bool {
        nonEmpty(environment["AWS_ENDPOINT_URL_KMS"]) != nil || nonEmpty(environment["AWS_ENDPOINT_URL"]) != nil
    }

    /// Finds the endpoint, region and credentials the way the AWS CLI and SDKs do.
    ///
    /// - **Profile**: `profile` > `AWS_PROFILE` > `default`.
    /// - **Endpoint**: `endpoint` > `AWS_ENDPOINT_URL_KMS` > `AWS_ENDPOINT_URL` >
    ///   `https://kms.<region>.amazonaws.com` (`.amazonaws.com.cn` for `cn-` regions).
    /// - **Region**: `region` > `AWS_REGION` > `AWS_DEFAULT_REGION` > `region` of the profile in
    ///   the config file (`AWS_CONFIG_FILE`, or `~/.aws/config`; sections `[default]` and
    ///   `[profile NAME]`) > `region` of the profile in the credentials file.
    /// - **Credentials**: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) >
    ///   the profile in the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, or
    ///   `~/.aws/credentials`; sections `[NAME]`) > the profile in the config file. As in
    ///   botocore, a `profile` passed here (like `--profile`) skips the variables and reads the
    ///   profile; `AWS_PROFILE` does not.
    ///
    /// Files are read only when a value is still missing; a missing file counts as empty. The
    /// secret access key goes from the file's bytes straight into guarded memory. Profile
    /// `endpoint_url` settings and credential processes, SSO and role assumption are not read.
    ///
    /// ```swift
    /// // AWS_ENDPOINT_URL_KMS=http://127.0.0.1:8417 AWS_PROFILE=ci
    /// let configuration = try KMSClientConfiguration.resolve()
    /// let pinned = try KMSClientConfiguration.resolve(region: "eu-west-1", profile: "deploy")
    /// ```
    /// - Parameters:
    ///   - environment: The variables to read (`HOME` included).
    ///   - endpoint: An endpoint URL that overrides the variables.
    ///   - region: A region that overrides the variables and files.
    ///   - profile: A profile that overrides `AWS_PROFILE`.
    /// - Returns: A configuration with the standard retry policy and a 10 s deadline.
    /// - Throws: ``KMSTransportError`` of kind `.configuration` naming what is missing or wrong
    ///   and where (the file and line of a malformed line, the profile that does not exist); it
    ///   never holds a secret.
    public static func resolve(
        environment: [String: String] = ProcessEnvironment.variables(),
        endpoint: String? = nil, region: String? = nil, profile: String? = nil
    ) throws(KMSTransportError) -> KMSClientConfiguration {
        let env = environment.compactMapValues { $0.isEmpty ? nil : $0 }
        let profileArgument = nonEmpty(profile)
        let profileName = profileArgument ?? env["AWS_PROFILE"] ?? "default"
        let profileIsNamed = profileArgument != nil || env["AWS_PROFILE"] != nil
        let files = ProfileFiles(environment: env, profile: profileName, mustExist: profileIsNamed)

        // Credentials first: the variables, unless a profile was passed in.
        var credentials: SigV4Credentials?
        if profileArgument == nil {
            credentials = try environmentCredentials(env)
        }
        if credentials == nil {
            credentials = try files.credentials()
        }
        guard let credentials else {
            throw KMSTransportError(.configuration, "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                + "or add aws_access_key_id and aws_secret_access_key to profile \(profileName) "
                + "(\(files.credentialsPath ?? "~/.aws/credentials"))")
        }

        let resolvedRegion: (value: String, source: String)
        if let region = nonEmpty(region) {
            resolvedRegion = (region, "the region argument")
        } else if let region = env["AWS_REGION"] {
            resolvedRegion = (region, "AWS_REGION")
        } else if let region = env["AWS_DEFAULT_REGION"] {
            resolvedRegion = (region, "AWS_DEFAULT_REGION")
        } else if let found = try files.region() {
            resolvedRegion = found
        } else {
            throw KMSTransportError(.configuration, "no AWS region: set AWS_REGION or AWS_DEFAULT_REGION, "
                + "or add 'region = …' to profile \(profileName) (\(files.configPath ?? "~/.aws/config"))")
        }

        let resolvedEndpoint: (value: String, source: String)
        if let endpoint = nonEmpty(endpoint) {
            resolvedEndpoint = (endpoint, "the endpoint argument")
        } else if let endpoint = env["AWS_ENDPOINT_URL_KMS"] {
            resolvedEndpoint = (endpoint, "AWS_ENDPOINT_URL_KMS")
        } else if let endpoint = env["AWS_ENDPOINT_URL"] {
            resolvedEndpoint = (endpoint, "AWS_ENDPOINT_URL")
        } else {
            let region = try validated(region: resolvedRegion.value, from: resolvedRegion.source)
            let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
            resolvedEndpoint = ("https://kms.\(region).\(suffix)", "the default endpoint of \(region)")
        }
        return try KMSClientConfiguration(
            endpoint: resolvedEndpoint.value, endpointSource: resolvedEndpoint.source,
            region: resolvedRegion.value, regionSource: resolvedRegion.source,
            credentials: credentials, retryPolicy: .standard, deadline: .seconds(10))
    }

    /// `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY`, `nil` when neither is set.
    private static func environmentCredentials(_ env: [String: String]) throws(KMSTransportError) -> SigV4Credentials? {
        switch (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) {
        case (nil, nil):
            return nil
        case (.some, nil):
            throw KMSTransportError(.configuration, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        case (nil, .some):
            throw KMSTransportError(.configuration, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
        case (let id?, let secret?):
            do {
                return try SigV4Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: env["AWS_SESSION_TOKEN"])
            } catch {
                throw KMSTransportError(.configuration, "cannot keep the secret access key in guarded memory: \(error)")
            }
        }
    }

    // MARK: - Validation

    static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    /// A region goes into the credential scope and the default host name: letters, digits, `-`.
    static func validated(region: String, from source: String) throws(KMSTransportError) -> String {
        let allowed = region.utf8.allSatisfy { byte in
            (byte | 0x20) &- UInt8(ascii: "a") < 26 || byte &- UInt8(ascii: "0") < 10 || byte == UInt8(ascii: "-")
        }
        guard !region.isEmpty, region.utf8.count <= 64, allowed else {
            throw KMSTransportError(.configuration, "invalid AWS region from \(source): use letters, digits and '-' (like us-east-1)")
        }
        return region
    }

    static func validated(endpoint: String, from source: String) throws(KMSTransportError) -> URL {
        func invalid(_ problem: String, quote: Bool = true) -> KMSTransportError {
            KMSTransportError(.configuration, "invalid endpoint URL" + (quote ? " '\(endpoint)'" : "") + " from \(source): \(problem)")
        }
        guard let components = URLComponents(string: endpoint), let url = components.url else {
            throw invalid("not a URL")
        }
        // User info may be a password: never quote it back.
        guard components.user == nil, components.password == nil else {
            throw invalid("it must not contain a user name or password", quote: false)
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw invalid("the scheme must be http or https")
        }
        guard let host = components.host, !host.isEmpty else { throw invalid("it has no host") }
        guard components.query == nil, components.fragment == nil else {
            throw invalid("it must not have a query or fragment")
        }
        return url
    }
}

// MARK: - Shared config and credentials files

/// The profile's sections of the shared `config` and `credentials` files, read on first need.
private final class ProfileFiles {
    let profile: String
    let mustExist: Bool
    let configPath: String?
    let credentialsPath: String?
    private var cached: [SharedConfigFile.Section]?

    init(environment: [String: String], profile: String, mustExist: Bool) {
        let home = environment["HOME"]
        func path(_ variable: String, default name: String) -> String? {
            if let path = environment[variable] {
                if path == "~" || path.hasPrefix("~/"), let home { return home + path.dropFirst() }
                return path
            }
            return home.map { $0 + "/.aws/" + name }
        }
        self.profile = profile
        self.mustExist = mustExist
        configPath = path("AWS_CONFIG_FILE", default: "config")
        credentialsPath = path("AWS_SHARED_CREDENTIALS_FILE", default: "credentials")
    }

    /// The profile's section of both files, in the order they are consulted for credentials.
    private func sections() throws(KMSTransportError) -> [SharedConfigFile.Section] {
        if let cached { return cached }
        var found: [SharedConfigFile.Section] = []
        if let credentialsPath, let section = try SharedConfigFile.section(profile, in: credentialsPath, isConfigFile: false) {
            found.append(section)
        }
        if let configPath, let section = try SharedConfigFile.section(profile, in: configPath, isConfigFile: true) {
            found.append(section)
        }
        if found.isEmpty, mustExist {
            let places = [credentialsPath, configPath].compactMap { $0 }.joined(separator: " or ")
            throw KMSTransportError(.configuration, "profile \(profile) not found" + (places.isEmpty ? "" : " (\(places))"))
        }
        cached = found
        return found
    }

    func credentials() throws(KMSTransportError) -> SigV4Credentials? {
        for section in try sections() {
            let id = section.values["aws_access_key_id"]
            switch (id, section.secretAccessKey) {
            case (nil, nil):
                continue
            case (let id?, let secret?):
                return SigV4Credentials(
                    accessKeyID: id.value, secretAccessKey: secret.value,
                    sessionToken: section.values["aws_session_token"]?.value)
            case (let id?, nil):
                throw KMSTransportError(.configuration, "profile \(profile) has aws_access_key_id but no "
                    + "aws_secret_access_key (\(section.path):\(id.line))")
            case (nil, let secret?):
                throw KMSTransportError(.configuration, "profile \(profile) has aws_secret_access_key but no "
                    + "aws_access_key_id (\(section.path):\(secret.line))")
            }
        }
        return nil
    }

    func region() throws(KMSTransportError) -> (value: String, source: String)? {
        // The config file is where the AWS CLI keeps regions; a credentials file (like the one
        // envseal writes for its first admin) may carry one too.
        let ordered = try sections().sorted { $0.isConfigFile && !$1.isConfigFile }
        for section in ordered {
            if let region = section.values["region"] {
                return (region.value, "\(section.path):\(region.line)")
            }
        }
        return nil
    }
}

/// Reads one profile out of an AWS shared `config` or `credentials` file (INI).
///
/// The syntax is Python's `configparser` as botocore uses it: `[section]` lines, `name = value` or
/// `name: value` lines (names case-insensitive), whole-line `#` and `;` comments, and indented
/// lines after a setting that continue it (nested settings such as `s3 =`), which are skipped.
/// Every line of the file is checked, so a malformed line anywhere is reported with its line
/// number, never with its text: it may hold a secret.
enum SharedConfigFile {
    /// A profile's settings, each with the line it came from.
    struct Section {
        let path: String
        let isConfigFile: Bool
        var values: [String: (value: String, line: Int)] = [:]
        var secretAccessKey: (value: SecureBytes, line: Int)?
    }

    /// Files larger than this are not AWS configuration.
    static let maxFileSize = 1 << 20

    /// The profile's section, `nil` when the file does not exist or has no such section.
    /// - Parameters:
    ///   - profile: The profile name.
    ///   - path: The file.
    ///   - isConfigFile: `config` (sections `[default]`, `[profile NAME]`) or `credentials` (`[NAME]`).
    static func section(_ profile: String, in path: String, isConfigFile: Bool) throws(KMSTransportError) -> Section? {
        let kind = isConfigFile ? "AWS config file" : "AWS credentials file"
        guard var bytes = try readFile(path, kind: kind) else { return nil }
        defer { SecureMemory.zero(&bytes) }
        return try parse(bytes, profile: profile, path: path, kind: kind, isConfigFile: isConfigFile)
    }

    static func parse(
        _ bytes: [UInt8], profile: String, path: String, kind: String, isConfigFile: Bool
    ) throws(KMSTransportError) -> Section? {
        var result = Section(path: path, isConfigFile: isConfigFile)
        var found = false
        var inSection = false
        var inWanted = false
        var afterSetting = false
        var lineNumber = 0
        var start = 0
        func malformed(_ problem: String) -> KMSTransportError {
            KMSTransportError(.configuration, "malformed \(kind): line \(lineNumber) \(problem) (\(path):\(lineNumber))")
        }
        while start <= bytes.count {
            lineNumber += 1
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            defer { start = end + 1 }
            let line = trimmed(bytes, start..<end)
            if line.isEmpty { continue }
            let first = bytes[line.lowerBound]
            if first == UInt8(ascii: "#") || first == UInt8(ascii: ";") { continue }
            if line.lowerBound > start, afterSetting { continue }  // a nested or continued value

            if first == UInt8(ascii: "[") {
                guard let close = bytes[line].lastIndex(of: UInt8(ascii: "]")) else {
                    throw malformed("opens a section without closing it with ']'")
                }
                let name = String(decoding: bytes[trimmed(bytes, (line.lowerBound + 1)..<close)], as: UTF8.self)
                guard !name.isEmpty else { throw malformed("has an empty section name") }
                inSection = true
                inWanted = matches(section: name, profile: profile, isConfigFile: isConfigFile)
                found = found || inWanted
                afterSetting = false
                continue
            }
            guard let delimiter = bytes[line].firstIndex(where: { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: ":") }) else {
                throw malformed("is not '[section]', 'name = value' or a comment")
            }
            let name = String(decoding: bytes[trimmed(bytes, line.lowerBound..<delimiter)], as: UTF8.self).lowercased()
            guard !name.isEmpty else { throw malformed("has a value without a name") }
            guard inSection else { throw malformed("is a setting before any [section]") }
            afterSetting = true
            guard inWanted else { continue }
            let value = trimmed(bytes, (delimiter + 1)..<line.upperBound)
            if name == "aws_secret_access_key" {
                guard !value.isEmpty else { throw malformed("has an empty aws_secret_access_key") }
                do {
                    result.secretAccessKey = (try SecureBytes(copying: bytes[value]), lineNumber)
                } catch {
                    throw KMSTransportError(.configuration, "cannot keep the secret access key in guarded memory: \(error)")
                }
            } else {
                result.values[name] = (String(decoding: bytes[value], as: UTF8.self), lineNumber)
            }
        }
        return found ? result : nil
    }

    /// `[default]` and `[profile NAME]` in a config file (botocore ignores `[NAME]` there, but
    /// for `default`); `[NAME]` in a credentials file.
    static func matches(section: String, profile: String, isConfigFile: Bool) -> Bool {
        guard isConfigFile else { return section == profile }
        if section == "default" { return profile == "default" }
        let words = section.split(whereSeparator: { $0 == " " || $0 == "\t" })
        return words.count == 2 && words[0] == "profile" && words[1] == profile
    }

    /// The range without leading and trailing spaces, tabs and carriage returns.
    static func trimmed(_ bytes: [UInt8], _ range: Range<Int>) -> Range<Int> {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D }
        var lower = range.lowerBound, upper = range.upperBound
        while lower < upper, isSpace(bytes[lower]) { lower += 1 }
        while upper > lower, isSpace(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    /// The file's bytes, `nil` when it does not exist. Read with `read(2)` into one buffer, so
    /// that the only copy of a secret outside guarded memory is the one `SecureMemory.zero` clears.
    static func readFile(_ path: String, kind: String) throws(KMSTransportError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw KMSTransportError(.configuration, "cannot read the \(kind) \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw KMSTransportError(.configuration, "cannot read the \(kind) \(path): \(String(cString: strerror(errno)))")
        }
        let type = status.st_mode & S_IFMT
        // A character device or a pipe (`AWS_CONFIG_FILE=/dev/null`, a process substitution) is read
        // to its end, as botocore and the aws CLI read it, up to the size limit.
        guard type == S_IFREG || type == S_IFCHR || type == S_IFIFO else {
            throw KMSTransportError(.configuration, "cannot read the \(kind) \(path): not a regular file")
        }
        let size = type == S_IFREG ? Int(status.st_size) : maxFileSize
        guard size <= maxFileSize else {
            throw KMSTransportError(.configuration, "the \(kind) \(path) is larger than \(maxFileSize) bytes")
        }
        // One byte more than the file, to see the end of a file that did not grow meanwhile.
        var buffer = [UInt8](repeating: 0, count: size + 1)
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                SecureMemory.zero(&buffer)
                throw KMSTransportError(.configuration, "cannot read the \(kind) \(path): \(String(cString: strerror(errno)))")
            }
            filled += count
        }
        guard filled < buffer.count else {
            SecureMemory.zero(&buffer)
            throw KMSTransportError(.configuration, type == S_IFREG
                ? "the \(kind) \(path) changed while it was read" : "the \(kind) \(path) is larger than \(maxFileSize) bytes")
        }
        buffer.removeLast(buffer.count - filled)  // shrinks in place: no copy
        return buffer
    }
}
