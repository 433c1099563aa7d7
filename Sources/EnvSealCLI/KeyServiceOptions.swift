import ArgumentParser
import Foundation
import KMSClient
import KMSWire
import KeyService
import KeyStoreFolder
import KeyStoreSQLite
import SealedDotenv

/// Where the CLI's keys come from: a KMS endpoint (envseal's server, AWS KMS, moto) when one is
/// named by `--endpoint` or the standard AWS variables, else the embedded store in `--keystore`.
struct KeyServiceOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "A KMS endpoint URL (envseal's server, moto, …), or `aws` for AWS KMS in the region; PROFILE@URL uses that credentials profile. Repeat for more.",
        discussion: """
        Default: AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL; without any, the embedded key store. With several,         each key slot of a sealed file is tried at each endpoint in order, and each --key is made or wrapped         at the first endpoint that knows it; `keys` subcommands that manage master keys use the first.
        """))
    var endpoint: [String] = []

    @Option(help: "The profile of the shared credentials file (default: AWS_PROFILE, else default).")
    var profile: String?

    @OptionGroup var store: KeyStoreOptions

    /// Connects to the key service this invocation names.
    /// - Parameters:
    ///   - environment: The process's environment, if the caller has read it already.
    ///   - creatingStore: Create the embedded store when there is none (commands that create keys).
    func connect(environment: [String: String] = ProcessEnvironment.variables(), creatingStore: Bool = false) async throws -> KeyServiceConnection {
        if !endpoint.isEmpty || KMSClientConfiguration.endpointIsConfigured(in: environment) {
            guard endpoint.count > 1 else {
                let (profile, url) = Self.split(endpoint.first, profile: profile)
                return try Self.remote(endpoint: url, region: store.regionOption, profile: profile, environment: environment)
            }
            let connections = try endpoint.map { value in
                let (profile, url) = Self.split(value, profile: profile)
                return try Self.remote(endpoint: url, region: store.regionOption, profile: profile, environment: environment)
            }
            return KeyServiceConnection(clients: connections.map(\.client), home: nil,
                                        name: connections.map(\.name).joined(separator: ", "))
        }
        let home = try await store.open(creating: creatingStore)
        _ = try await home.ensureAdmin(region: store.region)
        guard let admin = try await home.store.principals().first(where: { $0.isAdmin && $0.isEnabled }) else {
            throw CLIError("the embedded key store in \(store.keystore) has no enabled admin principal",
                           hint: "enable one with `envseal principals enable`", exitCode: EnvSealExit.configuration)
        }
        let principal = PrincipalDirectory.principal(admin)
        return KeyServiceConnection(client: KMSClient(transport: EmbeddedKMSTransport(engine: home.engine, principal: principal)),
                                    home: home, name: "the embedded key store in \(store.keystore)")
    }

    /// An `--endpoint` value split into its credentials profile and URL: `PROFILE@URL` names the
    /// profile (the `@` before any `://`, so `http://user@host` stays a plain URL); a plain URL
    /// uses `profile` (`--profile`, else AWS_PROFILE).
    static func split(_ value: String?, profile: String?) -> (profile: String?, endpoint: String?) {
        guard let value, let at = value.firstIndex(of: "@") else { return (profile, value) }
        let name = value[..<at]
        guard !name.isEmpty, !name.contains("/"), !name.contains(":") else { return (profile, value) }
        return (String(name), String(value[value.index(after: at)...]))
    }

    /// A KMS client of the endpoint `endpoint` (`aws`: AWS KMS in the region) or, without one, of
    /// the endpoint the environment names; region, credentials and profile as the AWS CLI finds them.
    static func remote(
        endpoint: String?, region: String?, profile: String?, environment: [String: String]
    ) throws -> KeyServiceConnection {
        let configuration: KMSClientConfiguration
        do {
            let explicit = endpoint == "aws" ? nil : endpoint
            var environment = environment
            if endpoint == "aws" {
                environment["AWS_ENDPOINT_URL_KMS"] = nil
                environment["AWS_ENDPOINT_URL"] = nil
            }
            configuration = try KMSClientConfiguration.resolve(
                environment: environment, endpoint: explicit, region: region, profile: profile)
        } catch {
            throw CLIError(error.description, hint: "set AWS_REGION and credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)",
                           exitCode: EnvSealExit.configuration)
        }
        let transport = HTTPKMSTransport(configuration: configuration)
        return KeyServiceConnection(client: KMSClient(transport: transport), home: nil, name: configuration.endpoint.description)
    }
}

struct KeyServiceConnection {
    /// The client of every endpoint, in the order given (at least one).
    let clients: [KMSClient]
    /// The embedded store, when that is what answers.
    let home: KeyStoreHome?
    /// What it is, for messages.
    let name: String
    /// Recovery key pairs (`--recovery-key`): when there are any, no key service is used at all.
    var recoveryIdentities: [RecoveryIdentity] = []

    init(client: KMSClient, home: KeyStoreHome?, name: String, recoveryIdentities: [RecoveryIdentity] = []) {
        self.init(clients: [client], home: home, name: name, recoveryIdentities: recoveryIdentities)
    }

    init(clients: [KMSClient], home: KeyStoreHome?, name: String, recoveryIdentities: [RecoveryIdentity] = []) {
        precondition(!clients.isEmpty, "a connection needs a client")
        self.clients = clients
        self.home = home
        self.name = name
        self.recoveryIdentities = recoveryIdentities
    }

    /// The first endpoint's client: the one master-key management goes to.
    var client: KMSClient { clients[0] }

    /// The sealed-file operations over these key services, tried in order, or over the recovery
    /// keys alone (`--recovery-key`), with no key service at all.
    var sealer: SealedFile {
        guard recoveryIdentities.isEmpty else { return .offline(recoveryIdentities, progress: TerminalProgress.shared.handler) }
        return SealedFile(providers: clients.map { KMSDataKeyProvider(client: $0) }, progress: TerminalProgress.shared.handler)
    }
}

/// The embedded store's engine, called in-process as the store's admin: whoever can read the key
/// store folder holds its root key anyway.
struct EmbeddedKMSTransport: KMSTransport {
    let engine: KeyServiceEngine
    let principal: Principal

    func send(_ operation: KMSOperation, body: Data) async throws -> Data {
        try await engine.handle(operation, body: body, by: principal, requestID: UUID().uuidString.lowercased())
    }
}
