import Foundation
import KMSClient
import KMSWire
import SodiumKit
import Testing

/// Endpoint, region, credentials and profile resolution, as the AWS CLI does it.
@Suite("client configuration")
struct KMSClientConfigurationTests {
    /// A throwaway home folder with `.aws/config` and `.aws/credentials` as given.
    final class Home {
        let url: URL
        var path: String { url.path }
        var configPath: String { path + "/.aws/config" }
        var credentialsPath: String { path + "/.aws/credentials" }

        init(config: String? = nil, credentials: String? = nil) throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-kmsclient-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url.appendingPathComponent(".aws"), withIntermediateDirectories: true)
            if let config { try Data(config.utf8).write(to: URL(fileURLWithPath: configPath)) }
            if let credentials { try Data(credentials.utf8).write(to: URL(fileURLWithPath: credentialsPath)) }
        }

        deinit { try? FileManager.default.removeItem(at: url) }
    }

    static let config = """
        [default]
        region = eu-west-1

        [profile ci]
        region = ap-south-1
        output = json

        [ci]
        region = us-gov-west-1
        """

    static let credentials = """
        # written by hand
        [default]
        aws_access_key_id = AKIDFILEDEFAULT00001
        aws_secret_access_key = file-default-secret-000000000000000000000

        [ci]
        aws_access_key_id = AKIDFILECI0000000001
        aws_secret_access_key = file-ci-secret-0000000000000000000000000000
        aws_session_token = ci-session-token
        """

    static func secret(_ text: String) throws -> SecureBytes { try SecureBytes(utf8: text) }

    // MARK: Endpoint

    @Test("endpoint: argument > AWS_ENDPOINT_URL_KMS > AWS_ENDPOINT_URL > https://kms.<region>.amazonaws.com")
    func endpointPrecedence() throws {
        var env = ["AWS_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret",
                   "AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:8417", "AWS_ENDPOINT_URL": "http://localhost:4566"]
        #expect(try KMSClientConfiguration.resolve(environment: env, endpoint: "https://kms.example.test").endpoint.absoluteString
            == "https://kms.example.test")
        #expect(try KMSClientConfiguration.resolve(environment: env).endpoint.absoluteString == "http://127.0.0.1:8417")
        env["AWS_ENDPOINT_URL_KMS"] = ""
        #expect(try KMSClientConfiguration.resolve(environment: env).endpoint.absoluteString == "http://localhost:4566")
        env["AWS_ENDPOINT_URL"] = nil
        #expect(try KMSClientConfiguration.resolve(environment: env).endpoint.absoluteString
            == "https://kms.eu-central-1.amazonaws.com")
        env["AWS_REGION"] = "cn-north-1"
        #expect(try KMSClientConfiguration.resolve(environment: env).endpoint.absoluteString
            == "https://kms.cn-north-1.amazonaws.com.cn")
    }

    @Test("endpointIsConfigured is true when either endpoint variable is set and not empty")
    func endpointIsConfigured() {
        #expect(KMSClientConfiguration.endpointIsConfigured(in: ["AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:8417"]))
        #expect(KMSClientConfiguration.endpointIsConfigured(in: ["AWS_ENDPOINT_URL": "http://127.0.0.1:8417"]))
        #expect(!KMSClientConfiguration.endpointIsConfigured(in: ["AWS_ENDPOINT_URL": "", "AWS_REGION": "us-east-1"]))
        #expect(!KMSClientConfiguration.endpointIsConfigured(in: [:]))
    }

    @Test("a bad endpoint URL is a configuration error naming its source", arguments: [
        "localhost:8417", "ftp://kms.example.test", "http://", "https://kms.example.test/?x=1", "not a url",
    ])
    func badEndpoint(endpoint: String) {
        let env = ["AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret",
                   "AWS_ENDPOINT_URL_KMS": endpoint]
        let error = #expect(throws: KMSTransportError.self) { try KMSClientConfiguration.resolve(environment: env) }
        #expect(error?.kind == .configuration)
        #expect(error?.message.contains("AWS_ENDPOINT_URL_KMS") == true)
    }

    @Test("an endpoint with a password is refused without quoting it")
    func endpointWithPassword() {
        let env = ["AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"]
        let error = #expect(throws: KMSTransportError.self) {
            try KMSClientConfiguration.resolve(environment: env, endpoint: "https://user:hunter2@kms.example.test")
        }
        #expect(error?.kind == .configuration && error?.message.contains("hunter2") == false)
    }

    // MARK: Region

    @Test("region: argument > AWS_REGION > AWS_DEFAULT_REGION > config file > credentials file")
    func regionPrecedence() throws {
        let home = try Home(config: "[default]\nregion = eu-west-1\n", credentials: Self.credentials + "\nregion = sa-east-1\n")
        var env = ["HOME": home.path, "AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "us-east-2"]
        #expect(try KMSClientConfiguration.resolve(environment: env, region: "af-south-1").region == "af-south-1")
        #expect(try KMSClientConfiguration.resolve(environment: env).region == "us-west-2")
        env["AWS_REGION"] = nil
        #expect(try KMSClientConfiguration.resolve(environment: env).region == "us-east-2")
        env["AWS_DEFAULT_REGION"] = nil
        #expect(try KMSClientConfiguration.resolve(environment: env).region == "eu-west-1")
        try FileManager.default.removeItem(atPath: home.configPath)
        // The region line was appended to the last profile of the credentials file, [ci].
        #expect(try KMSClientConfiguration.resolve(environment: env, profile: "ci").region == "sa-east-1")
    }

    @Test("no region anywhere is a configuration error naming the profile")
    func missingRegion() throws {
        let home = try Home(credentials: Self.credentials)
        let error = #expect(throws: KMSTransportError.self) {
            try KMSClientConfiguration.resolve(environment: ["HOME": home.path, "AWS_PROFILE": "ci"])
        }
        #expect(error?.kind == .configuration)
        #expect(error?.message.contains("region") == true && error?.message.contains("ci") == true)
    }

    @Test("an invalid region is refused before it reaches a host name")
    func invalidRegion() {
        let error = #expect(throws: KMSTransportError.self) {
            try KMSClientConfiguration.resolve(environment: [
                "AWS_REGION": "us-east-1.evil.test/", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret",
            ])
        }
        #expect(error?.kind == .configuration && error?.message.contains("AWS_REGION") == true)
    }

    // MARK: Credentials

    @Test("credentials: the variables win over the credentials file, with their session token")
    func environmentCredentials() throws {
        let home = try Home(config: Self.config, credentials: Self.credentials)
        let env = ["HOME": home.path, "AWS_ACCESS_KEY_ID": "AKIDENVIRONMENT00001",
                   "AWS_SECRET_ACCESS_KEY": "environment-secret", "AWS_SESSION_TOKEN": "environment-token"]
        let configuration = try KMSClientConfiguration.resolve(environment: env)
        #expect(configuration.credentials.accessKeyID == "AKIDENVIRONMENT00001")
        #expect(configuration.credentials.secretAccessKey == (try Self.secret("environment-secret")))
        #expect(configuration.credentials.sessionToken == "environment-token")
        #expect(configuration.region == "eu-west-1")
        #expect(configuration.endpoint.absoluteString == "https://kms.eu-west-1.amazonaws.com")
        #expect(configuration.retryPolicy == .standard && configuration.deadline == .seconds(10))
    }

    @Test("credentials: the shared credentials file's default profile when no variables are set")
    func fileCredentials() throws {
        let home = try Home(config: Self.config, credentials: Self.credentials)
        let configuration = try KMSClientConfiguration.resolve(environment: ["HOME": home.path])
        #expect(configuration.credentials.accessKeyID == "AKIDFILEDEFAULT00001")
        #expect(configuration.credentials.secretAccessKey == (try Self.secret("file-default-secret-000000000000000000000")))
        #expect(configuration.credentials.sessionToken == nil)
    }

    @Test("only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is an error, not a fallback")
    func partialEnvironmentCredentials() throws {
        let home = try Home(config: Self.config, credentials: Self.credentials)
        let error = #expect(throws: KMSTransportError.self) {
            try KMSClientConfiguration.resolve(environment: ["HOME": home.path, "AWS_ACCESS_KEY_ID": "AKIDENVIRONMENT00001"])
        }
        #expect(error?.kind == .configuration && error?.message.contains("AWS_SECRET_ACCESS_KEY") == true)
    }

    @Test("no credentials anywhere is a configuration error")
    func missingCredentials() throws {
        let home = try Home(config: Self.config)
        let error = #expect(throws: KMSTransportError.self) {
            try KMSClientConfiguration.resolve(environment: ["HOME": home.path])
        }
        #expect(error?.kind == .configuration && error?.message.contains("AWS_ACCESS_KEY_ID") == true)
        // No HOME and no files at all: the same.
        #expect(throws: KMSTransportError.self) { try KMSClientConfiguration.resolve(environment: ["AWS_REGION": "us-east-1"]) }
    }

    @Test("a profile with a key id but no secret names the profile and the file")
    func profileWithoutSecret() throws {
        let home = try Home(config: Self.config, credentials: "[default]\naws_access_key_id = AKIDONLY000000000001\n")
        let error = #expect(throws: KMSTransportError.self) { try KMSClientConfiguration.resolve(environment: ["HOME": home.path]) }
        #expect(error?.kind == .configuration)
        #expect(error?.message.contains("aws_secret_access_key") == true && error?.message.contains(home.credentialsPath) == true)
    }

    @Test("credentials in the config file are used when the credentials file has none")
    func configFileCredentials() throws {
        let home = try Home(config: """
            [profile build]
            region = us-west-1
            aws_access_key_id = AKIDCONFIGFILE000001
            aws_secret_access_key = config-file-secret
            """)
        let configuration = try KMSClientConfiguration.resolve(environment: ["HOME": home.path, "AWS_PROFILE": "build"])
        #expect(configuration.credentials.accessKeyID == "AKIDCONFIGFILE000001")
        #expect(configuration.credentials.secretAccessKey == (try Self.secret("config-file-secret")))
        #expect(configuration.region == "us-west-1")
    }

    // MARK: Profiles

    @Test("profile: argument > AWS_PROFILE > default; [profile NAME] in config, [NAME] in credentials")
    func profileSelection() throws {
        let home = try Home(config: Self.config, credentials: Self.credentials)
        var env = ["HOME": home.path, "AWS_PROFILE": "ci"]
        let fromVariable = try KMSClientConfiguration.resolve(environment: env)
        #expect(fromVariable.credentials.accessKeyID == "AKIDFILECI0000000001")
        #expect(fromVariable.credentials.sessionToken == "ci-session-token")
        // [profile ci] gives the region; the bare [ci] section of the config file is not a profile.
        #expect(fromVariable.region == "ap-south-1")
        let fromArgument = try KMSClientConfiguration.resolve(environment: env, profile: "default")
        #expect(fromArgument.credentials.accessKeyID == "AKIDFILEDEFAULT00001" && fromArgument.region == "eu-west-1")
        env["AWS_PROFILE"] = nil
        #expect(try KMSClientConfiguration.resolve(environment: env).credentials.accessKeyID == "AKIDFILEDEFAULT00001")
    }

    @Test("a profile passed in skips the credential variables; AWS_PROFILE does not (as botocore)")
    func explicitProfileSkipsEnvironment() throws {
        let home = try Home(config: Self.config, credentials: Self.credentials)
        let env = ["HOME": home.path, "AWS_ACCESS_KEY_ID": "AKIDENVIRONMENT00001", "AWS_SECRET_ACCESS_KEY": "environment-secret"]
        #expect(try KMSClientConfiguration.resolve(environment: env, profile: "ci").credentials.accessKeyID == "AKIDFILECI0000000001")
        var withVariable = env
        withVariable["AWS_PROFILE"] = "ci"
        #expect(try KMSClientConfiguration.resolve(environment: withVariable).credentials.accessKeyID == "AKIDENVIRONMENT00001")
    }

    @Test("a named profile that exists in neither file is an error naming it")
    func missingProfile() throws {
        let home = try Home(config: Self.config, credentials: Self.credentials)
        for env in [["HOME": home.path, "AWS_PROFILE": "nightly"], ["HOME": home.path]] {
            let error = #expect(throws: KMSTransportError.self) {
                try KMSClientConfiguration.resolve(environment: env, profile: env["AWS_PROFILE"] == nil ? "nightly" : nil)
            }
            #expect(error?.kind == .configuration && error?.message.contains("nightly") == true)
        }
    }

    @Test("AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE replace the files under HOME")
    func fileVariables() throws {
        let home = try Home(config: Self.config, credentials: Self.credentials)
        let other = try Home(config: "[default]\nregion = me-south-1\n",
                             credentials: "[default]\naws_access_key_id = AKIDOTHERFILE0000001\naws_secret_access_key = other\n")
        let configuration = try KMSClientConfiguration.resolve(environment: [
            "HOME": home.path, "AWS_CONFIG_FILE": other.configPath, "AWS_SHARED_CREDENTIALS_FILE": other.credentialsPath,
        ])
        #expect(configuration.region == "me-south-1" && configuration.credentials.accessKeyID == "AKIDOTHERFILE0000001")
    }

    @Test("AWS_CONFIG_FILE=/dev/null and a pipe read as empty files; a folder is still refused")
    func deviceAndPipeFiles() throws {
        let home = try Home(config: Self.config, credentials: Self.credentials)
        let configuration = try KMSClientConfiguration.resolve(environment: [
            "HOME": home.path, "AWS_CONFIG_FILE": "/dev/null", "AWS_REGION": "eu-north-1",
        ])
        #expect(configuration.region == "eu-north-1" && configuration.credentials.accessKeyID == "AKIDFILEDEFAULT00001")

        let fifo = home.path + "/config.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let writer = Thread {
            let fd = open(fifo, O_WRONLY)
            let text = Array("[default]\nregion = af-south-1\n".utf8)
            _ = text.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            close(fd)
        }
        writer.start()
        let piped = try KMSClientConfiguration.resolve(environment: ["HOME": home.path, "AWS_CONFIG_FILE": fifo])
        #expect(piped.region == "af-south-1")

        #expect(throws: KMSTransportError.self) {
            try KMSClientConfiguration.resolve(environment: ["HOME": home.path, "AWS_CONFIG_FILE": home.path, "AWS_REGION": "eu-north-1"])
        }
    }

    @Test("INI details: comments, ':' delimiters, upper-case names, CRLF, nested settings, [profile default]")
    func iniSyntax() throws {
        let home = try Home(
            config: "; comment\r\n[profile default]\r\nREGION: ca-central-1\r\ns3 =\r\n    max_concurrent_requests = 20\r\n",
            credentials: "[default]\n  # indented comment\nAWS_ACCESS_KEY_ID=AKIDINISYNTAX0000001\naws_secret_access_key :  spaced-secret  \n")
        let configuration = try KMSClientConfiguration.resolve(environment: ["HOME": home.path])
        #expect(configuration.region == "ca-central-1")
        #expect(configuration.credentials.accessKeyID == "AKIDINISYNTAX0000001")
        #expect(configuration.credentials.secretAccessKey == (try Self.secret("spaced-secret")))
    }

    /// A broken credentials file, named in test output by its problem, never by its text.
    struct MalformedFile: Sendable, CustomTestStringConvertible {
        let problem: String
        let line: Int
        let text: String
        var testDescription: String { problem }
    }

    @Test("a malformed credentials file: an error naming file and line, never the secret", arguments: [
        MalformedFile(problem: "no '='", line: 3,
                      text: "[default]\naws_access_key_id = AKIDBROKEN0000000001\naws_secret_access_key wJalrXUtnFEMIbrokenSECRET\n"),
        MalformedFile(problem: "unclosed section", line: 3,
                      text: "[default]\naws_access_key_id = AKIDBROKEN0000000001\n[broken wJalrXUtnFEMIbrokenSECRET\n"),
        MalformedFile(problem: "setting before any section", line: 1,
                      text: "aws_secret_access_key = wJalrXUtnFEMIbrokenSECRET\n[default]\n"),
        MalformedFile(problem: "value without a name", line: 4, text: "[default]\n\n\n= wJalrXUtnFEMIbrokenSECRET\n"),
    ])
    func malformedCredentialsFile(file: MalformedFile) throws {
        let home = try Home(config: Self.config, credentials: file.text)
        let error = #expect(throws: KMSTransportError.self) { try KMSClientConfiguration.resolve(environment: ["HOME": home.path]) }
        #expect(error?.kind == .configuration)
        #expect(error?.message.contains("\(home.credentialsPath):\(file.line)") == true)
        #expect(error?.message.contains("wJalrXUtnFEMI") == false)
    }

    @Test("a malformed line in another profile still fails: the whole file is checked")
    func malformedElsewhere() throws {
        let home = try Home(config: Self.config, credentials: Self.credentials + "\n[other]\nnot a setting\n")
        let error = #expect(throws: KMSTransportError.self) { try KMSClientConfiguration.resolve(environment: ["HOME": home.path]) }
        #expect(error?.message.contains("\(home.credentialsPath):11") == true)
    }

    @Test("credentials never show their secret")
    func descriptionsHideTheSecret() throws {
        let home = try Home(config: Self.config, credentials: Self.credentials)
        let configuration = try KMSClientConfiguration.resolve(environment: ["HOME": home.path])
        var dumped = ""
        dump(configuration, to: &dumped)
        #expect(!dumped.contains("file-default-secret") && !"\(configuration)".contains("file-default-secret"))
    }
}
