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
        "A KMS endpoint URL (envseal's server, moto, …), or `aws` for AWS KMS in the region.",
        discussion: "Default: AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL; without any, the embedded key store."))
    var endpoint: String?

    @Option(help: "The profile of the shared credentials file (default: AWS_PROFILE, else default).")
    var profile: String?

    @OptionGroup var store: KeyStoreOptions

    /// Connects to the key service this invocation names.
    /// - Parameters:
    ///   - environment: The process's environment, if the caller has read it already.
    ///   - creatingStore: Create the embedded store when there is none (commands that create keys).
    func connect(environment: [String: String] = ProcessEnvironment.variables(), creatingStore: Bool = false) async throws -> KeyServiceConnection {
        if endpoint != nil || KMSClientConfiguration.endpointIsConfigured(in: environment) {
            return try Self.remote(endpoint: endpoint, region: store.regionOption, profile: profile, environment: environment)
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
    /// The client every request goes through.
    let client: KMSClient
    /// The embedded store, when that is what answers.
    let home: KeyStoreHome?
    /// What it is, for messages.
    let name: String
    /// Recovery key pairs (`--recovery-key`): when there are any, no key service is used at all.
    var recoveryIdentities: [RecoveryIdentity] = []

    /// The sealed-file operations over this key service, or over the recovery keys alone.
    var sealer: SealedFile {
        guard recoveryIdentities.isEmpty else { return .offline(recoveryIdentities, progress: TerminalProgress.shared.handler) }
        return SealedFile(provider: KMSDataKeyProvider(client: client), progress: TerminalProgress.shared.handler)
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
