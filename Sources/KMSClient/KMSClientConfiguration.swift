package import Foundation
package import KMSWire
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
package struct KMSClientConfiguration: Sendable {
    /// How often and how patiently a request is tried again.
    ///
    /// Between attempts the client sleeps a random time between zero and
    /// `min(maxDelay, baseDelay × 2^(retry − 1))` ("full jitter"), so that many clients throttled
    /// at once do not come back in step.
    package struct RetryPolicy: Sendable, Equatable {
        /// The most attempts per request, the first included; 1 never retries.
        package var maxAttempts: Int
        /// How long one attempt may take, from connecting to the last byte of the response.
        package var attemptTimeout: Duration
        /// The backoff ceiling before the first retry; it doubles for each retry after that.
        package var baseDelay: Duration
        /// The largest backoff ceiling.
        package var maxDelay: Duration

        /// Creates a policy.
        /// - Parameters:
        ///   - maxAttempts: The most attempts per request, the first included (at least 1).
        ///   - attemptTimeout: How long one attempt may take.
        ///   - baseDelay: The backoff ceiling before the first retry.
        ///   - maxDelay: The largest backoff ceiling.
        package init(
            maxAttempts: Int = 5, attemptTimeout: Duration = .seconds(5),
            baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(2)
        ) {
            self.maxAttempts = max(1, maxAttempts)
            self.attemptTimeout = attemptTimeout
            self.baseDelay = baseDelay
            self.maxDelay = maxDelay
        }

        /// Five attempts, 5 s each, backoff ceilings of 0.1, 0.2, 0.4 and 0.8 s.
        package static let standard = RetryPolicy()

        /// One attempt, no retry.
        package static let none = RetryPolicy(maxAttempts: 1)

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
    package let endpoint: URL
    /// The region requests are signed for.
    package let region: String
    /// Who signs the requests.
    package let credentials: SigV4Credentials
    /// How failed attempts are retried.
    package var retryPolicy: RetryPolicy
    /// How long a request may take in all, retries and backoff included.
    package var deadline: Duration

    /// Creates a configuration.
    /// - Parameters:
    ///   - endpoint: An `http` or `https` URL with a host and no query, fragment or user info.
    ///   - region: The signing region (letters, digits and `-`).
    ///   - credentials: The access key pair requests are signed with.
    ///   - retryPolicy: How failed attempts are retried.
    ///   - deadline: How long a request may take in all.
    /// - Throws: ``KMSTransportError`` of kind `.configuration` for a bad endpoint or region.
    package init(
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
    package static func endpointIsConfigured(
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
    package static func resolve(
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
