import ArgumentParser
import ChildProcess
import Foundation
import Hummingbird
import KMSClient
import KeyServer
import KeyService
import KeyStoreFolder
import KeyStoreSQLite
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import SodiumKit
import UnixSignals

/// `envseal server`: the key service over HTTP, on the embedded store.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the key service: AWS KMS's JSON protocol with SigV4, on the embedded key store.",
        discussion: """
        On first start it creates the store, the root key and an admin principal, and writes the \
        admin's credentials to KEYSTORE/admin.credentials (AWS shared-credentials format, 0600).

        Examples:
          envseal server
          envseal server --keystore /var/lib/envseal --listen 0.0.0.0:8417 --tls-cert cert.pem --tls-key key.pem
          envseal server --metrics-listen 127.0.0.1:9417
          AWS_SHARED_CREDENTIALS_FILE=KeyStore/admin.credentials AWS_REGION=us-east-1 \\
            aws --endpoint-url http://127.0.0.1:8417 kms list-keys
        """
    )

    @OptionGroup var store: KeyStoreOptions

    @Option(help: ArgumentHelp(
        "Address and port to listen on.",
        discussion: "An address other than loopback (127.0.0.0/8, ::1, localhost) needs --tls-cert and --tls-key, or --insecure-listen."))
    var listen: String = "127.0.0.1:8417"

    @Flag(name: .customLong("insecure-listen"), help: ArgumentHelp(
        "Allow plain HTTP on an address other than loopback (behind a TLS-terminating proxy, say).",
        discussion: "Without TLS, plaintexts, data keys and ciphertexts cross the network in the clear; signatures stop tampering, not reading."))
    var insecureListen = false

    @Option(name: .customLong("metrics-listen"), help: ArgumentHelp(
        "Serve GET /metrics (Prometheus) on this HOST:PORT, plain HTTP (default: metrics are not served).",
        discussion: "Never on the KMS listener. An address other than loopback needs --insecure-listen.",
        valueName: "host:port"))
    var metricsListen: String?

    @Option(name: .customLong("request-timeout"), help: ArgumentHelp(
        "Seconds a request may take to arrive, headers and body; past it: 408 and the connection closed.",
        valueName: "seconds"))
    var requestTimeout: Int = 20

    @Option(name: .customLong("seed"), help: ArgumentHelp(
        "A seed file (JSON) of test keys with fixed ids, aliases and material, created at start when missing.",
        discussion: "For tests only: see docs/KEY-SERVICE.md, \"Seeded keys\"."))
    var seed: String?

    @Option(name: .customLong("maintenance-interval"), help: "Seconds between runs of due rotations and deletions.")
    var maintenanceInterval: Int = 60

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(name: .customLong("request-log-sample"), help: ArgumentHelp(
        "Log one successful Encrypt, Decrypt, ReEncrypt, GenerateDataKey* or GenerateRandom in N at info (default 0: none).",
        discussion: "1 logs every one. The rest are logged at debug. Failed requests and every other operation are always logged at info; the audit log records every operation either way.",
        valueName: "N"))
    var requestLogSample: Int = 0

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain: serve HTTPS (with --tls-key).")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("rate-limit"), help: ArgumentHelp(
        "Requests per second each principal may make, as RATE or RATE/BURST (default: no limit).",
        discussion: "Over it the server answers ThrottlingException, which AWS SDKs and envseal's client back off from and retry."))
    var rateLimit: String?

    func validate() throws {
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard (1...3600).contains(requestTimeout) else { throw ValidationError("--request-timeout must be 1 to 3600 seconds") }
        _ = try parsedRateLimit()
        guard requestLogSample >= 0 else { throw ValidationError("--request-log-sample must be 0 or more") }
    }

    func run() async throws {
        let (host, port) = try Self.parseListen(listen)
        let metrics = try metricsListen.map { try Self.parseListen($0, option: "--metrics-listen") }
        // Plain HTTP beyond loopback is refused unless asked for: secrets would cross the network
        // in the clear, and a mistyped --listen should not expose them silently.
        var exposed: [String] = []
        if tlsCert == nil && !KeyServer.isLoopback(host) { exposed.append("\(host):\(port)") }
        if let (metricsHost, metricsPort) = metrics, !KeyServer.isLoopback(metricsHost) {
            exposed.append("\(metricsHost):\(metricsPort) (metrics)")
        }
        if !exposed.isEmpty && !insecureListen {
            throw CLIError(
                "refusing to serve plain HTTP on \(exposed.joined(separator: " and ")), not a loopback address",
                hint: "give --tls-cert and --tls-key, or --insecure-listen if a TLS-terminating proxy is in front",
                exitCode: EnvSealExit.configuration)
        }
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        // Key material and plaintexts pass through this process's memory: keep them out of core
        // dumps (RLIMIT_CORE 0, not dumpable, which also bars ptrace by other users' processes).
        let hardening = Result { () throws(ChildProcessError) in try ProcessHardening.disableCoreDumps() }
        LoggingSystem.bootstrap { label in
            var handler = ServerLogHandler(wrapping: StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
        let logger = { () -> Logger in
            var logger = Logger(label: "envseal.server")
            logger.logLevel = level
            if case .failure(let error) = hardening {
                logger.warning("core dumps could not be disabled", metadata: ["error": "\(error)"])
            }
            return logger
        }()
        for address in exposed {
            logger.warning("""
                INSECURE: serving plain HTTP without TLS on \(address), reachable from the network \
                (--insecure-listen). Plaintexts, data keys and ciphertexts cross it in the clear; use \
                --tls-cert/--tls-key or a TLS-terminating proxy in front.
                """)
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let home = try await store.open(creating: true)
        if let path = try await home.ensureAdmin(region: store.region) {
            logger.notice("created the admin principal; its credentials are in \(path)")
        }
        if let seed {
            let outcomes = try await KeySeeding.apply(seed, home: home, region: store.region)
            logger.notice("\(KeySeeding.summary(outcomes, file: seed))")
        }
        var configuration = KeyServer.Configuration(
            host: host, port: port, maintenanceInterval: .seconds(maintenanceInterval),
            tls: tlsCert.flatMap { cert in tlsKey.map { (certificateChain: cert, privateKey: $0) } },
            rateLimit: try parsedRateLimit(), requestTimeout: .seconds(requestTimeout), metricsAddress: metrics)
        configuration.requestLogSample = requestLogSample
        let server = KeyServer(
            engine: home.engine, principals: home.principals, configuration: configuration, registry: registry, logger: logger)
        let region = store.region
        let scheme = tlsCert == nil ? "http" : "https"
        let application: any ApplicationProtocol
        do {
            application = try server.application(
                onRunning: { port in
                    logger.notice("envseal key service listening", metadata: ["address": "\(scheme)://\(host):\(port)", "region": "\(region)"])
                },
                onMetricsRunning: { port in
                    logger.notice("envseal metrics listening", metadata: ["address": "http://\(metrics?.0 ?? ""):\(port)/metrics"])
                })
        } catch let error as KeyServerError {
            throw CLIError(error.description, exitCode: EnvSealExit.cannotRead)
        }
        let services = ServiceGroup(
            configuration: .init(services: [.init(service: application)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await services.run()
        } catch {
            if "\(error)".contains("Address already in use") || "\(error)".contains("EADDRINUSE") {
                throw CLIError("cannot listen on \(host):\(port): the address is already in use", hint: "stop the other server or pick another port with --listen")
            }
            throw CLIError("the server stopped: \(error)")
        }
        home.closeStore()
        logger.notice("envseal key service stopped")
    }

    static func parseListen(_ text: String, option: String = "--listen") throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("\(option) must be HOST:PORT, like 127.0.0.1:8417")
        }
        return (String(text[..<colon]), port)
    }
}

/// Where the embedded key store is, and the engine's ARN settings.
extension ServerCommand {
    /// `--rate-limit RATE[/BURST]`; the burst defaults to one second's worth (at least 1).
    func parsedRateLimit() throws -> (perSecond: Double, burst: Int)? {
        guard let rateLimit else { return nil }
        let parts = rateLimit.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let rate = Double(parts[0]), rate > 0, rate.isFinite,
              parts.count == 1 || Int(parts[1]).map({ $0 >= 1 }) == true
        else {
            throw ValidationError("--rate-limit must be RATE or RATE/BURST with RATE > 0 and BURST ≥ 1, e.g. 100 or 100/200")
        }
        return (rate, parts.count == 2 ? Int(parts[1])! : max(1, Int(rate.rounded(.up))))
    }
}

struct KeyStoreOptions: ParsableArguments {
    @Option(name: .customLong("keystore"), help: "The key store folder (default: KeyStore).")
    var keystoreFlag: String?

    /// The folder when no `--keystore` is given.
    static let defaultFolder = "KeyStore"

    /// `--keystore`, or the default folder.
    var keystore: String { keystoreFlag ?? Self.defaultFolder }

    @Option(name: .customLong("store"), help: ArgumentHelp(
        "A PostgreSQL key store shared by several servers, as postgres://USER@HOST:PORT/DATABASE (default: SQLite in the key store folder).",
        discussion: "What the URL leaves out comes from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE; a password from the URL, PGPASSWORD or the password file PGPASSFILE (~/.pgpass). Parameters: sslmode, sslrootcert, schema, passfile. The root key still comes from KEYSTORE/root.key or --passphrase: give every server the same one.",
        valueName: "url"))
    var storeURL: String?

    @Option(name: .customLong("region"), help: "The region: of the embedded store's key ARNs (default: AWS_REGION, else us-east-1); with a KMS endpoint, the region to sign for (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's region).")
    var regionOption: String?

    var region: String { regionOption ?? ProcessEnvironment.variables()["AWS_REGION"] ?? "us-east-1" }

    @Option(name: .customLong("account-id"), help: "The 12-digit account in key ARNs.")
    var accountID: String = "111122223333"

    @Flag(help: "Derive the root key from a passphrase (ENVSEAL_ROOT_PASSPHRASE, or asked for) instead of KEYSTORE/root.key.")
    var passphrase = false

    @OptionGroup var messages: MessageOptions

    func validate() throws {
        guard accountID.count == 12, accountID.allSatisfy(\.isNumber) else {
            throw ValidationError("--account-id must be 12 digits, like AWS account ids")
        }
    }

    /// Opens the key store.
    /// - Parameter creating: Create the store when there is none. Only the commands that create
    ///   keys or principals (and the server) pass `true`: anything else, given a mistyped
    ///   `--keystore`, would create an empty store and then report a misleading "wrong key".
    /// - Parameter folder: The folder, when not ``keystore`` (a project config's, say).
    func open(creating: Bool = false, folder: String? = nil) async throws -> KeyStoreHome {
        let keystore = folder ?? keystore
        if !creating { try checkExists(keystore) }
        var secret: SecureBytes?
        if passphrase {
            secret = try PassphraseSource.read()
        }
        do {
            return try await KeyStoreHome.open(
                keystore, passphrase: secret, configuration: .init(region: region, account: accountID), storeURL: storeURL)
        } catch let error as KeyStoreHomeError {
            throw CLIError(error.description, hint: error.isReadOnly ? Self.readOnlyHint : nil,
                           exitCode: error.isReadOnly ? EnvSealExit.cannotWrite : EnvSealExit.cannotRead)
        }
    }

    static let readOnlyHint = "SQLite writes its journal beside the database and every command appends to the audit log, " +
        "even one that only reads keys: give this user write access to the folder and its files"

    /// Refuses a key store folder that holds no store. With `--store`, the state is in PostgreSQL and
    /// the folder keeps only the root key, so the folder alone must exist.
    private func checkExists(_ keystore: String) throws {
        var info = stat()
        let database = keystore + "/" + KeyStoreHome.sqliteFileName
        for path in storeURL == nil ? [keystore, database] : [keystore] where stat(path, &info) != 0 && errno != ENOENT && errno != ENOTDIR {
            throw CLIError("cannot read the key store \(path): \(String(cString: strerror(errno)))", exitCode: EnvSealExit.cannotRead)
        }
        var isDirectory: ObjCBool = false
        let folderExists = FileManager.default.fileExists(atPath: keystore, isDirectory: &isDirectory)
        if folderExists, !isDirectory.boolValue {
            throw CLIError("\(keystore) is not a directory, so it cannot be a key store", exitCode: EnvSealExit.cannotRead)
        }
        guard folderExists, storeURL != nil || FileManager.default.fileExists(atPath: database) else {
            throw CLIError("no key store at \(keystore)",
                           hint: "create one with `envseal keys create` (or `envseal server`), or name an existing one with --keystore DIR",
                           exitCode: EnvSealExit.cannotRead)
        }
    }
}


/// The root passphrase: from ENVSEAL_ROOT_PASSPHRASE, or asked for on the terminal without echo.
enum PassphraseSource {
    static func read() throws -> SecureBytes {
        if let value = ProcessEnvironment.variables()["ENVSEAL_ROOT_PASSPHRASE"], !value.isEmpty {
            return try SecureBytes(utf8: value)
        }
        guard isatty(STDIN_FILENO) != 0, let pointer = getpass("envseal: root passphrase: ") else {
            throw CLIError("no root passphrase: set ENVSEAL_ROOT_PASSPHRASE or run on a terminal")
        }
        defer { SecureMemory.zero(UnsafeMutableRawBufferPointer(start: pointer, count: strlen(pointer))) }
        return try SecureBytes(copying: UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
    }
}
