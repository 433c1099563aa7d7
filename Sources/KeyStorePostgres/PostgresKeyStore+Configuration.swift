import Foundation
import KeyService
import NIOSSL
import PostgresNIO

extension PostgresKeyStore {
    /// Where the database is and how to log in, from a `postgres://` URL and libpq's standard
    /// variables.
    ///
    /// ```swift
    /// let configuration = try PostgresKeyStore.Configuration(url: "postgres://envseal@db.internal:5432/envseal")
    /// let store = try await PostgresKeyStore.open(configuration)
    /// ```
    package struct Configuration: Sendable {
        /// The server's host name or address.
        package var host: String
        /// The server's port.
        package var port: Int
        /// The role to log in as.
        package var username: String
        /// The password, when the server asks for one. Never printed.
        package var password: String?
        package var database: String
        /// The schema holding the tables; `nil` for the role's default (`public`).
        package var schema: String?
        /// TLS: libpq's `sslmode` (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`).
        package var sslMode: SSLMode
        /// The CA certificates (PEM) that `verify-ca` and `verify-full` trust; the system's when `nil`.
        package var sslRootCertificate: String?
        /// At most this many connections per server.
        package var maximumConnections: Int = 20
        /// How long a store call waits for a connection — every one busy, or the database
        /// unreachable while the pool keeps reconnecting — before it fails with `.unavailable`.
        package var connectionWait: Duration = .seconds(5)

        /// libpq's TLS modes. `prefer` and `require` encrypt without checking the certificate,
        /// as libpq does; `verify-full` is the one to use across an untrusted network.
        package enum SSLMode: String, Sendable {
            case disable, prefer, require
            case verifyCA = "verify-ca"
            case verifyFull = "verify-full"
        }

        /// `host:port/database` (and the schema), for messages. Never holds the password.
        package var displayName: String {
            "postgres://\(username)@\(host):\(port)/\(database)" + (schema.map { "?schema=\($0)" } ?? "")
        }

        /// A configuration given piece by piece.
        package init(
            host: String, port: Int = 5432, username: String, password: String? = nil, database: String,
            schema: String? = nil, sslMode: SSLMode = .prefer, sslRootCertificate: String? = nil
        ) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.schema = schema
            self.sslMode = sslMode
            self.sslRootCertificate = sslRootCertificate
        }

        /// Reads a `postgres://[user[:password]@][host][:port][/database][?param=value&…]` URL
        /// (`postgresql://` too). What the URL leaves out comes from libpq's variables `PGHOST`,
        /// `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE` and `PGSSLROOTCERT`, then
        /// libpq's defaults (localhost, 5432, the user's name, a database named like the user). A
        /// password missing from both is looked up in the password file `PGPASSFILE` (default
        /// `~/.pgpass`), in libpq's format `host:port:database:username:password`.
        ///
        /// Parameters: `sslmode`, `sslrootcert`, `schema` (envseal's: the schema for the tables),
        /// `passfile` (a password file for this URL).
        ///
        /// - Throws: ``KeyService/KeyStoreError`` `.unavailable` for a URL that is not one, or an
        ///   unknown parameter or `sslmode`.
        package init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
                throw KeyStoreError(.unavailable, "not a postgres:// URL: \(Self.redacted(url))")
            }
            func nonEmpty(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }
            var parameters: [String: String] = [:]
            for item in components.queryItems ?? [] {
                guard ["sslmode", "sslrootcert", "schema", "passfile"].contains(item.name) else {
                    throw KeyStoreError(.unavailable, "unknown parameter \(item.name) in \(Self.redacted(url)) (known: sslmode, sslrootcert, schema, passfile)")
                }
                parameters[item.name] = item.value ?? ""
            }
            let user = nonEmpty(components.user) ?? nonEmpty(environment["PGUSER"]) ?? nonEmpty(environment["USER"]) ?? "postgres"
            host = nonEmpty(components.host) ?? nonEmpty(environment["PGHOST"]) ?? "localhost"
            guard let port = components.port ?? Int(nonEmpty(environment["PGPORT"]) ?? "5432") else {
                throw KeyStoreError(.unavailable, "PGPORT is not a port number")
            }
            self.port = port
            username = user
            let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
            database = nonEmpty(path) ?? nonEmpty(environment["PGDATABASE"]) ?? user
            schema = nonEmpty(parameters["schema"])
            let mode = nonEmpty(parameters["sslmode"]) ?? nonEmpty(environment["PGSSLMODE"]) ?? "prefer"
            guard let sslMode = SSLMode(rawValue: mode) else {
                throw KeyStoreError(.unavailable, "unknown sslmode \(mode) (known: disable, prefer, require, verify-ca, verify-full)")
            }
            self.sslMode = sslMode
            sslRootCertificate = nonEmpty(parameters["sslrootcert"]) ?? nonEmpty(environment["PGSSLROOTCERT"])
            password = nonEmpty(components.password) ?? nonEmpty(environment["PGPASSWORD"])
            if password == nil {
                let file = nonEmpty(parameters["passfile"]) ?? nonEmpty(environment["PGPASSFILE"])
                    ?? nonEmpty(environment["HOME"]).map { $0 + "/.pgpass" }
                if let file {
                    password = try Self.password(in: file, host: host, port: port, database: database, username: username)
                }
            }
        }

        /// The password for this login in a libpq password file, or `nil`. A missing file is no
        /// error (as with libpq); one that others may read is refused, as libpq ignores it.
        static func password(in path: String, host: String, port: Int, database: String, username: String) throws -> String? {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  let text = try? String(contentsOfFile: path, encoding: .utf8)
            else { return nil }
            if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
                throw KeyStoreError(.unavailable, "the password file \(path) is open to other users: run chmod 600 \(path)")
            }
            for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
                let fields = splitPassFileLine(String(line))
                guard fields.count == 5 else { continue }
                let wanted = [host, String(port), database, username]
                if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) {
                    return fields[4]
                }
            }
            return nil
        }

        /// Splits a password-file line at unescaped colons, undoing `\:` and `\\`.
        private static func splitPassFileLine(_ line: String) -> [String] {
            var fields: [String] = []
            var current = ""
            var escaped = false
            for character in line {
                if escaped {
                    current.append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == ":" {
                    fields.append(current)
                    current = ""
                } else {
                    current.append(character)
                }
            }
            fields.append(current)
            return fields
        }

        /// A URL with its password, if any, replaced, for messages.
        static func redacted(_ url: String) -> String {
            guard var components = URLComponents(string: url), components.password != nil else { return url }
            components.password = "xxxxx"
            return components.string ?? "(a URL)"
        }

        /// postgres-nio's configuration of the pool.
        var clientConfiguration: PostgresClient.Configuration {
            get throws {
                let tls: PostgresClient.Configuration.TLS
                switch sslMode {
                case .disable:
                    tls = .disable
                case .prefer, .require:
                    var settings = TLSConfiguration.makeClientConfiguration()
                    settings.certificateVerification = .none
                    tls = sslMode == .prefer ? .prefer(settings) : .require(settings)
                case .verifyCA, .verifyFull:
                    var settings = TLSConfiguration.makeClientConfiguration()
                    settings.certificateVerification = sslMode == .verifyFull ? .fullVerification : .noHostnameVerification
                    if let sslRootCertificate {
                        do {
                            settings.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(sslRootCertificate))
                        } catch {
                            throw KeyStoreError(.unavailable, "cannot read the CA certificates \(sslRootCertificate)")
                        }
                    }
                    tls = .require(settings)
                }
                var configuration = PostgresClient.Configuration(
                    host: host, port: port, username: username, password: password, database: database, tls: tls)
                configuration.options.maximumConnections = maximumConnections
                configuration.options.connectTimeout = .seconds(5)
                // A server that dies in the middle of a transaction without closing its socket
                // (power loss, a network partition) would otherwise keep its locks — the key's row,
                // the audit log's — until TCP gives up. No transaction here waits between its
                // statements, so ten idle seconds mean its server is gone.
                var parameters = [("idle_in_transaction_session_timeout", "10s")]
                if let schema {
                    parameters.append(("search_path", PostgresKeyStore.quoted(schema)))
                }
                configuration.options.additionalStartupParameters = parameters
                return configuration
            }
        }
    }

    /// An identifier quoted for SQL: `"name"`, inner quotes doubled.
    static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
