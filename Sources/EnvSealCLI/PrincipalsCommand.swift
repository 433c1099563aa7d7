import ArgumentParser
import Foundation
import KeyService
import KeyStoreFolder
import KeyStoreSQLite
import SodiumKit

/// `envseal principals`: the access-key pairs that may call the key service.
struct PrincipalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "principals",
        abstract: "Manage the principals (access-key pairs) of the embedded key store.",
        subcommands: [Create.self, List.self, Disable.self, Enable.self, Delete.self, Policy.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Create a principal and write its credentials file (0600).",
            discussion: """
            Examples:
              envseal principals create billing-fn
              envseal principals create ci --admin --credentials ci.credentials
            """)

        @OptionGroup var store: KeyStoreOptions
        @Argument(help: "The principal's name: letters, digits and +=,.@_-.") var name: String
        @Flag(help: "Make it an admin: it may create keys and is named in new keys' default policies.") var admin = false
        @Option(help: "Where to write its credentials (default: KEYSTORE/NAME.credentials).") var credentials: String?

        func run() async throws {
            let home = try await store.open(creating: true)
            let path = credentials ?? "\(store.keystore)/\(name).credentials"
            // Both or neither: the name and the file's place are checked first, and a principal
            // whose file cannot be written is deleted again.
            if try await home.store.principals().contains(where: { $0.name == name }) {
                throw CLIError("a principal named \(name) exists already", exitCode: EnvSealExit.usage)
            }
            do {
                _ = try KeyStoreHome.credentialsTarget(path, replacing: false)
            } catch let error as KeyStoreHomeError {
                throw CLIError(error.description, exitCode: EnvSealExit.cannotWrite)
            }
            let made: PrincipalDirectory.Credentials
            do {
                made = try await home.principals.create(name: name, isAdmin: admin)
            } catch let error as PrincipalError {
                throw CLIError(error.description, exitCode: EnvSealExit.usage)
            }
            do {
                try KeyStoreHome.writeCredentials(made, region: store.region, to: path)
            } catch {
                _ = try? await home.principals.delete(accessKeyID: made.record.accessKeyID)
                throw CLIError("\(error); principal \(name) was not created", exitCode: EnvSealExit.cannotWrite)
            }
            print("created \(made.record.arn) (access key \(made.record.accessKeyID)); credentials written to \(path)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the principals.")
        @OptionGroup var store: KeyStoreOptions
        @Option(help: "Output format: text or json.") var output: OutputFormat = .text

        func run() async throws {
            let home = try await store.open()
            let all = try await home.store.principals()
            switch output {
            case .text:
                for p in all {
                    print("\(p.name)\t\(p.accessKeyID)\t\(p.isAdmin ? "admin" : "-")\t\(p.isEnabled ? "enabled" : "disabled")\t\(p.arn)")
                }
            case .json:
                struct Row: Encodable { let name, accessKeyId, arn, uniqueId: String; let admin, enabled, identityPolicy: Bool }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                let rows = all.map {
                    Row(name: $0.name, accessKeyId: $0.accessKeyID, arn: $0.arn, uniqueId: $0.uniqueID, admin: $0.isAdmin,
                        enabled: $0.isEnabled, identityPolicy: $0.identityPolicy != nil)
                }
                print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "disable", abstract: "Refuse a principal's requests until enabled again.")
        @OptionGroup var store: KeyStoreOptions
        @Argument(help: "The principal's name or access key id.") var principal: String
        func run() async throws { try await PrincipalsCommand.setEnabled(principal, false, store) }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "enable", abstract: "Accept a disabled principal's requests again.")
        @OptionGroup var store: KeyStoreOptions
        @Argument(help: "The principal's name or access key id.") var principal: String
        func run() async throws { try await PrincipalsCommand.setEnabled(principal, true, store) }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete",
            abstract: "Delete a principal: its access key stops working at once, and the grants made to it are deleted.",
            discussion: """
            A principal created later under the same name is another principal: it gets none of these
            grants, and key policies that named the deleted one show its unique id (AIDA…) instead of its ARN.
            Also removes KEYSTORE/NAME.credentials when that file holds this principal's access \
            key; a file written elsewhere with --credentials is left, and should be deleted.
            """)
        @OptionGroup var store: KeyStoreOptions
        @Argument(help: "The principal's name or access key id.") var principal: String
        func run() async throws {
            let home = try await store.open()
            let record = try await PrincipalsCommand.find(principal, home)
            do {
                try await home.principals.delete(accessKeyID: record.accessKeyID)
            } catch let error as PrincipalError {
                throw CLIError(error.description, exitCode: EnvSealExit.failure)
            }
            print("deleted \(record.arn) (\(record.uniqueID)) and the grants made to it")
            let path = "\(store.keystore)/\(record.name).credentials"
            guard FileManager.default.fileExists(atPath: path) else {
                print("no credentials file at \(path); one written elsewhere with --credentials holds a dead key: delete it")
                return
            }
            if try Self.holdsAccessKey(record.accessKeyID, path: path) {
                guard unlink(path) == 0 else { throw FileIO.cannotWrite(path, errno) }
                print("removed its credentials file \(path)")
            } else {
                print("left \(path): it holds another access key, not this principal's")
            }
        }

        /// Whether the credentials file names `accessKeyID` as its `aws_access_key_id`.
        static func holdsAccessKey(_ accessKeyID: String, path: String) throws -> Bool {
            var bytes = try FileIO.readBytes(path)
            // The file holds the secret access key too: wipe the copy read.
            defer { bytes.withUnsafeMutableBytes { SecureMemory.zero($0) } }
            // Compared as bytes, so no other line (the secret's) is copied into a String.
            func trimmed(_ part: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
                var part = part
                while let first = part.first, first == 0x20 || first == 0x09 { part.removeFirst() }
                while let last = part.last, last == 0x20 || last == 0x09 { part.removeLast() }
                return part
            }
            return bytes.split(whereSeparator: { $0 == 0x0A || $0 == 0x0D }).contains { line in
                guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else { return false }
                return trimmed(line[..<equals]).elementsEqual("aws_access_key_id".utf8)
                    && trimmed(line[(equals + 1)...]).elementsEqual(accessKeyID.utf8)
            }
        }
    }

    /// `envseal principals policy`: a principal's identity policy.
    struct Policy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "policy",
            abstract: "Manage a principal's identity policy (what a key policy delegating to the account lets it do).",
            discussion: """
            A key policy statement naming the account root (arn:aws:iam::ACCOUNT:root), as AWS's
            default "Enable IAM User Permissions" does, allows nothing by itself: it lets each
            principal's identity policy allow. A Deny in an identity policy always applies.

            Examples:
              envseal principals policy put billing-fn billing-fn.policy.json
              envseal principals policy get billing-fn
              envseal principals policy delete billing-fn
            """,
            subcommands: [Put.self, Get.self, Delete.self])

        struct Put: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "put", abstract: "Set a principal's identity policy from a JSON file (- for standard input).")
            @OptionGroup var store: KeyStoreOptions
            @Argument(help: "The principal's name or access key id.") var principal: String
            @Argument(help: "The policy document: IAM policy JSON without Principal.") var file: String

            func run() async throws {
                let bytes = try FileIO.readBytes(file)
                guard let json = String(bytes: bytes, encoding: .utf8) else {
                    throw CLIError("\(file): the policy is not UTF-8 text", exitCode: EnvSealExit.malformedInput)
                }
                do {
                    _ = try IdentityPolicy(json: json)
                } catch {
                    throw CLIError("\(file): \(error)", hint: "an identity policy is a key policy without Principal, "
                        + "such as {\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"kms:Decrypt\", \"Resource\": \"*\"}]}",
                        exitCode: EnvSealExit.malformedInput)
                }
                let home = try await store.open()
                let record = try await PrincipalsCommand.find(principal, home)
                try await home.principals.setIdentityPolicy(accessKeyID: record.accessKeyID, json)
                print("set the identity policy of \(record.arn)")
            }
        }

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "get", abstract: "Print a principal's identity policy.")
            @OptionGroup var store: KeyStoreOptions
            @Argument(help: "The principal's name or access key id.") var principal: String

            func run() async throws {
                let home = try await store.open()
                let record = try await PrincipalsCommand.find(principal, home)
                guard let policy = record.identityPolicy else {
                    throw CLIError("\(record.name) has no identity policy", hint: "set one with `envseal principals policy put`",
                                   exitCode: EnvSealExit.failure)
                }
                print(policy)
            }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "delete", abstract: "Remove a principal's identity policy: delegating key policies then allow it nothing.")
            @OptionGroup var store: KeyStoreOptions
            @Argument(help: "The principal's name or access key id.") var principal: String

            func run() async throws {
                let home = try await store.open()
                let record = try await PrincipalsCommand.find(principal, home)
                guard record.identityPolicy != nil else {
                    throw CLIError("\(record.name) has no identity policy", exitCode: EnvSealExit.failure)
                }
                try await home.principals.setIdentityPolicy(accessKeyID: record.accessKeyID, nil)
                print("removed the identity policy of \(record.arn)")
            }
        }
    }

    static func find(_ reference: String, _ home: KeyStoreHome) async throws -> PrincipalRecord {
        guard let record = try await home.store.principals().first(where: { $0.name == reference || $0.accessKeyID == reference }) else {
            throw CLIError("no principal named \(reference)", hint: "envseal principals list shows them", exitCode: EnvSealExit.usage)
        }
        return record
    }

    static func setEnabled(_ reference: String, _ enabled: Bool, _ options: KeyStoreOptions) async throws {
        let home = try await options.open()
        let record = try await find(reference, home)
        try await home.store.setPrincipalEnabled(accessKeyID: record.accessKeyID, enabled)
        print("\(enabled ? "enabled" : "disabled") \(record.arn)")
    }
}

/// `--output` for commands a script may read.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
