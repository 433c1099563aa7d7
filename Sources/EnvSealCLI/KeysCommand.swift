import ArgumentParser
import Foundation
import KMSClient
import KMSWire

/// `envseal keys`: master keys, aliases, rotation, policies and grants, on the embedded store or
/// any KMS endpoint (the same options as the file commands).
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage master keys (create, list, enable, disable, delete, rotate, aliases, policies, grants) and a sealed file's key slots.",
        discussion: """
        Every subcommand is one KMS call (two for `create --alias`) on the embedded store or, with \
        --endpoint or AWS_ENDPOINT_URL(_KMS), on that KMS endpoint. --output json prints the KMS \
        response as it came. KeyStore/examples/ has key policies to start from.

        Examples:
          envseal keys create --description billing --alias alias/billing
          envseal keys list --output json
          envseal keys rotation on alias/billing
          envseal keys policy put alias/billing policy.json
          envseal keys add .env.sealed --key alias/billing-dr
          envseal keys list .env.sealed
        """,
        subcommands: [
            Create.self, List.self, Describe.self, Enable.self, Disable.self, ScheduleDeletion.self, CancelDeletion.self,
            Rotate.self, Rotation.self, Alias.self, Policy.self, Grants.self, KeysSeedCommand.self, AddSlot.self, RemoveSlot.self,
        ]
    )

    /// What every subcommand takes: where the key service is, and how to print.
    struct Common: ParsableArguments {
        @Option(help: "Output format: text or json.") var output: OutputFormat = .text
        @OptionGroup var service: KeyServiceOptions

        /// Calls one operation and prints its response. `request` gets an alias resolved to its key
        /// ID, since some operations (EnableKey, RotateKeyOnDemand, …) refuse aliases, as on AWS;
        /// the bare ID is what every KMS (moto included) accepts.
        func call<Request: KMSRequest>(key: String?, _ request: (String) -> Request, text: (Request.Response) -> String?) async throws {
            let connection = try await service.connect()
            var resolved = key ?? ""
            if let key, key.hasPrefix("alias/") || key.contains(":alias/") {
                let described = try await connection.run { try await connection.client.call(KMS.DescribeKeyRequest(keyId: key)) }
                resolved = described.keyMetadata?.keyId ?? key
            }
            let request = request(resolved)
            let response = try await connection.run { try await connection.client.call(request) }
            switch output {
            case .json:
                try JSONOutput.printKMS(response)
            case .text:
                if let line = text(response) { print(line) }
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a symmetric master key, optionally with an alias.")
        @Option(help: "A description.") var description: String?
        @Option(help: "A key policy document (JSON file); default: the account's default policy.") var policy: String?
        @Option(help: "An alias to create for it (alias/NAME).") var alias: String?
        @OptionGroup var common: Common

        /// A bad alias is refused before anything is created: `alias/` and the characters AWS allows.
        func validate() throws {
            guard let alias else { return }
            guard alias.hasPrefix("alias/"), alias.count > 6 else {
                throw ValidationError("--alias must be alias/NAME, as in alias/billing (got \(alias))")
            }
            guard !alias.hasPrefix("alias/aws/") else {
                throw ValidationError("--alias: alias/aws/ names are reserved for AWS managed keys")
            }
            do {
                try KMS.CreateAliasRequest(aliasName: alias, targetKeyId: "0").validate()
            } catch {
                throw ValidationError("--alias \(alias): only letters, digits and /_- are allowed, at most 256 characters")
            }
        }

        func run() async throws {
            let document = try policy.map { String(decoding: try FileIO.readBytes($0), as: UTF8.self) }
            let connection = try await common.service.connect(creatingStore: true)
            if let alias {
                try await Self.requireFree(alias, on: connection)
            }
            let created = try await connection.run { try await connection.client.call(KMS.CreateKeyRequest(policy: document, description: description)) }
            let metadata = created.keyMetadata
            if let alias, let keyID = metadata?.keyId {
                do {
                    _ = try await connection.run { try await connection.client.call(KMS.CreateAliasRequest(aliasName: alias, targetKeyId: keyID)) }
                } catch let error as CLIError {
                    // The key exists now: say which, so it can be used or scheduled for deletion.
                    throw CLIError("created key \(metadata?.arn ?? keyID), but not its alias: \(error.message)",
                                   hint: "add the alias with `envseal keys alias create \(alias) \(keyID)`", exitCode: error.exitCode)
                }
            }
            switch common.output {
            case .json:
                try JSONOutput.printKMS(created)
            case .text:
                print("created \(metadata?.arn ?? metadata?.keyId ?? "?")" + (alias.map { " with alias \($0)" } ?? ""))
            }
        }

        /// Refuses an alias that already names a key, before a key is made for it.
        static func requireFree(_ alias: String, on connection: KeyServiceConnection) async throws {
            let existing: KMS.DescribeKeyResponse
            do {
                existing = try await connection.client.call(KMS.DescribeKeyRequest(keyId: alias))
            } catch let error as KMSError where error.type == .notFound {
                return
            } catch {
                throw ErrorReport.cliError(error, file: nil)
            }
            throw CLIError("\(alias) already exists: it names key \(existing.keyMetadata?.keyId ?? "?"); no key was created",
                           hint: "choose another alias, or point this one at a new key with `envseal keys alias update`",
                           exitCode: EnvSealExit.usage)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List the keys with their aliases; with FILE, the key slots of that sealed file.")
        @Argument(help: "A sealed file: list its slots (kind, key or recipient, context), offline.") var file: String?
        @OptionGroup var common: Common

        func run() async throws {
            if let file { return try KeySlotsList.print(file, output: common.output) }
            let connection = try await common.service.connect()
            var keys: [KMS.KeyListEntry] = []
            var marker: String?
            repeat {
                let page = try await connection.run { try await connection.client.call(KMS.ListKeysRequest(limit: 1000, marker: marker)) }
                keys += page.keys ?? []
                marker = page.truncated == true ? page.nextMarker : nil
            } while marker != nil
            var aliases: [KMS.AliasListEntry] = []
            marker = nil
            repeat {
                let page = try await connection.run { try await connection.client.call(KMS.ListAliasesRequest(limit: 100, marker: marker)) }
                aliases += page.aliases ?? []
                marker = page.truncated == true ? page.nextMarker : nil
            } while marker != nil
            switch common.output {
            case .json:
                try JSONOutput.printKMS(KMS.ListKeysResponse(keys: keys))
            case .text:
                for key in keys {
                    let names = aliases.filter { $0.targetKeyId == key.keyId }.compactMap(\.aliasName)
                    print([key.keyArn ?? key.keyId ?? "?", names.joined(separator: ",")].joined(separator: "\t"))
                }
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "describe", abstract: "Show a key's state, dates and description.")
        @Argument(help: "The key: ID, ARN, alias name or alias ARN.") var key: String
        @OptionGroup var common: Common

        func run() async throws {
            try await common.call(key: nil, { _ in KMS.DescribeKeyRequest(keyId: key) }) { response in
                guard let m = response.keyMetadata else { return nil }
                var lines = ["key \(m.arn ?? m.keyId)", "state \(m.keyState?.rawValue ?? "?")"]
                if let description = m.description, !description.isEmpty { lines.append("description \(description)") }
                if let created = m.creationDate { lines.append("created \(ISO8601DateFormatter().string(from: created))") }
                if let deletion = m.deletionDate { lines.append("deletion \(ISO8601DateFormatter().string(from: deletion))") }
                return lines.joined(separator: "\n")
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "enable", abstract: "Enable a disabled key.")
        @Argument(help: "The key.") var key: String
        @OptionGroup var common: Common
        func run() async throws { try await common.call(key: key, { KMS.EnableKeyRequest(keyId: $0) }) { _ in "enabled \(key)" } }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "disable", abstract: "Disable a key: nothing sealed under it opens until it is enabled again.")
        @Argument(help: "The key.") var key: String
        @OptionGroup var common: Common
        func run() async throws { try await common.call(key: key, { KMS.DisableKeyRequest(keyId: $0) }) { _ in "disabled \(key)" } }
    }

    struct ScheduleDeletion: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "schedule-deletion", abstract: "Schedule a key's deletion after a waiting period (7 to 30 days).")
        @Argument(help: "The key.") var key: String
        @Option(help: "Days to wait, 7 to 30.") var days: Int = 30
        @OptionGroup var common: Common

        func validate() throws {
            guard (7...30).contains(days) else { throw ValidationError("--days must be 7 to 30, as on AWS KMS (got \(days))") }
        }

        func run() async throws {
            try await common.call(key: key, { KMS.ScheduleKeyDeletionRequest(keyId: $0, pendingWindowInDays: days) }) { response in
                "deletion of \(response.keyId ?? key) scheduled for \(response.deletionDate.map { ISO8601DateFormatter().string(from: $0) } ?? "?")"
            }
        }
    }

    struct CancelDeletion: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "cancel-deletion", abstract: "Cancel a scheduled deletion (the key stays disabled).")
        @Argument(help: "The key.") var key: String
        @OptionGroup var common: Common
        func run() async throws {
            try await common.call(key: key, { KMS.CancelKeyDeletionRequest(keyId: $0) }) { _ in "deletion of \(key) cancelled; the key is disabled until enabled" }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rotate", abstract: "Make a new key version now; old ciphertexts still open.")
        @Argument(help: "The key.") var key: String
        @OptionGroup var common: Common
        func run() async throws { try await common.call(key: key, { KMS.RotateKeyOnDemandRequest(keyId: $0) }) { _ in "rotated \(key)" } }
    }

    struct Rotation: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rotation", abstract: "Automatic rotation: on, off, status.", subcommands: [On.self, Off.self, Status.self])

        struct On: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "on", abstract: "Rotate the key automatically.")
            @Argument(help: "The key.") var key: String
            @Option(help: "Days between rotations, 90 to 2560.") var period: Int?
            @OptionGroup var common: Common
            func run() async throws {
                try await common.call(key: key, { KMS.EnableKeyRotationRequest(keyId: $0, rotationPeriodInDays: period) }) { _ in "automatic rotation on for \(key)" }
            }
        }

        struct Off: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "off", abstract: "Stop rotating the key automatically.")
            @Argument(help: "The key.") var key: String
            @OptionGroup var common: Common
            func run() async throws { try await common.call(key: key, { KMS.DisableKeyRotationRequest(keyId: $0) }) { _ in "automatic rotation off for \(key)" } }
        }

        struct Status: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "status", abstract: "Whether the key rotates automatically, and when next.")
            @Argument(help: "The key.") var key: String
            @OptionGroup var common: Common
            func run() async throws {
                try await common.call(key: key, { KMS.GetKeyRotationStatusRequest(keyId: $0) }) { r in
                    guard r.keyRotationEnabled == true else { return "automatic rotation off" }
                    let next = r.nextRotationDate.map { ", next \(ISO8601DateFormatter().string(from: $0))" } ?? ""
                    return "automatic rotation on, every \(r.rotationPeriodInDays ?? 365) days\(next)"
                }
            }
        }
    }

    struct Alias: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "alias", abstract: "Aliases: create, update, delete, list.", subcommands: [Create.self, Update.self, Delete.self, List.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "create", abstract: "Point a new alias at a key.")
            @Argument(help: "The alias (alias/NAME).") var alias: String
            @Argument(help: "The key.") var key: String
            @OptionGroup var common: Common
            func run() async throws { try await common.call(key: nil, { _ in KMS.CreateAliasRequest(aliasName: alias, targetKeyId: key) }) { _ in "\(alias) → \(key)" } }
        }

        struct Update: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "update", abstract: "Point an alias at another key.")
            @Argument(help: "The alias.") var alias: String
            @Argument(help: "The key.") var key: String
            @OptionGroup var common: Common
            func run() async throws { try await common.call(key: nil, { _ in KMS.UpdateAliasRequest(aliasName: alias, targetKeyId: key) }) { _ in "\(alias) → \(key)" } }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete an alias (the key stays).")
            @Argument(help: "The alias.") var alias: String
            @OptionGroup var common: Common
            func run() async throws { try await common.call(key: nil, { _ in KMS.DeleteAliasRequest(aliasName: alias) }) { _ in "deleted \(alias)" } }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "list", abstract: "List aliases, of one key or all.")
            @Argument(help: "Only this key's aliases.") var key: String?
            @OptionGroup var common: Common
            func run() async throws {
                try await common.call(key: key, { resolved in KMS.ListAliasesRequest(keyId: key == nil ? nil : resolved, limit: 100) }) { r in
                    (r.aliases ?? []).map { "\($0.aliasName ?? "?")\t\($0.targetKeyId ?? "-")" }.joined(separator: "\n")
                }
            }
        }
    }

    struct Policy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "policy", abstract: "A key's policy: get, put.", subcommands: [Get.self, Put.self])

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "get", abstract: "Print a key's policy document.")
            @Argument(help: "The key.") var key: String
            @OptionGroup var common: Common
            func run() async throws { try await common.call(key: key, { KMS.GetKeyPolicyRequest(keyId: $0) }) { $0.policy } }
        }

        struct Put: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "put", abstract: "Replace a key's policy with a JSON document.")
            @Argument(help: "The key.") var key: String
            @Argument(help: "The policy document (JSON file, - for standard input).") var file: String
            @OptionGroup var common: Common
            func run() async throws {
                let document = String(decoding: try FileIO.readBytes(file), as: UTF8.self)
                try await common.call(key: key, { KMS.PutKeyPolicyRequest(keyId: $0, policy: document) }) { _ in "policy of \(key) replaced" }
            }
        }
    }

    struct Grants: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "grants", abstract: "Grants: create, list, revoke, retire.", subcommands: [Create.self, List.self, Revoke.self, Retire.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "create", abstract: "Let a principal use a key for some operations.")
            @Argument(help: "The key.") var key: String
            @Option(help: "The grantee principal's ARN.") var grantee: String
            @Option(help: "Operations, comma-separated (Decrypt,Encrypt,GenerateDataKey,…).") var operations: String
            @Option(help: "A principal that may retire the grant.") var retiring: String?
            @Option(help: "A name for the grant.") var name: String?
            @OptionGroup var common: Common
            func run() async throws {
                let list = operations.split(separator: ",").map { KMS.GrantOperation(rawValue: String($0)) }
                try await common.call(key: key, { KMS.CreateGrantRequest(keyId: $0, granteePrincipal: grantee, retiringPrincipal: retiring, operations: list, name: name) }) {
                    "grant \($0.grantId ?? "?")\ntoken \($0.grantToken ?? "?")"
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "list", abstract: "List a key's grants.")
            @Argument(help: "The key.") var key: String
            @OptionGroup var common: Common
            func run() async throws {
                try await common.call(key: key, { KMS.ListGrantsRequest(limit: 100, keyId: $0) }) { r in
                    (r.grants ?? []).map { g in
                        "\(g.grantId ?? "?")\t\(g.granteePrincipal ?? "?")\t\((g.operations ?? []).map(\.rawValue).joined(separator: ","))"
                    }.joined(separator: "\n")
                }
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a grant.")
            @Argument(help: "The key.") var key: String
            @Argument(help: "The grant ID.") var grant: String
            @OptionGroup var common: Common
            func run() async throws { try await common.call(key: key, { KMS.RevokeGrantRequest(keyId: $0, grantId: grant) }) { _ in "revoked \(grant)" } }
        }

        struct Retire: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "retire", abstract: "Retire a grant by its token, or by key and grant ID.")
            @Option(help: "The grant token.") var token: String?
            @Option(help: "The key (with --grant).") var key: String?
            @Option(help: "The grant ID (with --key).") var grant: String?
            @OptionGroup var common: Common
            func validate() throws {
                guard token != nil || (key != nil && grant != nil) else { throw ValidationError("give --token, or --key and --grant") }
            }
            func run() async throws { try await common.call(key: key, { resolved in KMS.RetireGrantRequest(grantToken: token, keyId: key == nil ? nil : resolved, grantId: grant) }) { _ in "retired" } }
        }
    }
}
