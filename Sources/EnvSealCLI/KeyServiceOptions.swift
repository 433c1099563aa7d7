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
        Default: AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL; else --keystore; else, for a command on a \
        file, the endpoints or keystore of its creation rule in .envseal.yaml; else the embedded key \
        store in ./KeyStore. With several, each key slot of a sealed file is tried at each endpoint in \
        order, and each --key is made or wrapped at the first endpoint that knows it; `keys` \
        subcommands that manage master keys use the first.
        """))
    var endpoint: [String] = []

    @Option(help: "The profile of the shared credentials file (default: AWS_PROFILE, else default).")
    var profile: String?

    @OptionGroup var store: KeyStoreOptions

    /// Connects to the key service this invocation names: `--endpoint`, else AWS_ENDPOINT_URL_KMS
    /// or AWS_ENDPOINT_URL, else `--keystore`, else (for a command on `file`) the endpoints or
    /// key store of the project config's creation rule that matches it, else `./KeyStore`.
    /// - Parameters:
    ///   - file: The sealed file the command works on, whose project config may name the key service.
    ///   - environment: The process's environment, if the caller has read it already.
    ///   - creatingStore: Create the embedded store when there is none (commands that create keys).
    func connect(
        for file: String? = nil, environment: [String: String] = ProcessEnvironment.variables(), creatingStore: Bool = false
    ) async throws -> KeyServiceConnection {
        try await connect(choice(for: file, environment: environment), environment: environment, creatingStore: creatingStore)
    }

    /// The key service for a command on `file`. The project config is read only when no flag or
    /// variable names a key service: then it cannot change the outcome.
    func choice(for file: String?, environment: [String: String]) throws -> KeyServiceChoice {
        let decided = !endpoint.isEmpty || store.keystoreFlag != nil || KMSClientConfiguration.endpointIsConfigured(in: environment)
        let config = decided ? nil : try file.flatMap { $0 == "-" ? nil : try ProjectConfig.find(for: $0) }
        return KeyServiceChoice.resolve(endpointFlags: endpoint, keystoreFlag: store.keystoreFlag, rule: file.flatMap { config?.rule(for: $0) },
                                        configPath: config?.path, environment: environment)
    }

    /// Connects to the key service `choice` names.
    func connect(_ choice: KeyServiceChoice, environment: [String: String], creatingStore: Bool = false) async throws -> KeyServiceConnection {
        if choice.isRemote {
            // The variables are left to the client to read, as the AWS SDKs read them.
            if case .environment = choice.endpoints.source {
                return try Self.remote(endpoint: nil, region: store.regionOption, profile: profile, environment: environment)
            }
            let connections = try choice.endpointSpecs().map { spec in
                try Self.remote(endpoint: spec.endpoint, region: store.regionOption, profile: spec.profile ?? profile, environment: environment)
            }
            guard connections.count > 1 else { return connections[0] }
            return KeyServiceConnection(clients: connections.map(\.client), home: nil, name: connections.map(\.name).joined(separator: ", "))
        }
        let folder = choice.keystore.value
        let home = try await store.open(creating: creatingStore, folder: folder)
        _ = try await home.ensureAdmin(region: store.region)
        guard let admin = try await home.store.principals().first(where: { $0.isAdmin && $0.isEnabled }) else {
            throw CLIError("the embedded key store in \(folder) has no enabled admin principal",
                           hint: "enable one with `envseal principals enable`", exitCode: EnvSealExit.configuration)
        }
        let principal = PrincipalDirectory.principal(admin)
        return KeyServiceConnection(client: KMSClient(transport: EmbeddedKMSTransport(engine: home.engine, principal: principal)),
                                    home: home, name: "the embedded key store in \(folder)")
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
