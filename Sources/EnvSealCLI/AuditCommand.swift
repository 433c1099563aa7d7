import ArgumentParser
import Foundation
import KeyStoreFolder
import KeyService
import KeyStoreSQLite

/// `envseal audit`: the key service's hash-chained audit log.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read and check the audit log of the embedded key store.",
        subcommands: [Tail.self, Verify.self]
    )

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tail",
            abstract: "Print the last audit records: time, principal, operation, key, context, outcome.",
            discussion: """
            Records never hold a plaintext or a key; the encryption context is shown because it is \
            not secret (as in AWS CloudTrail). The audit log is the embedded store's; a remote \
            server's is read on its machine with the same command.

            Examples:
              envseal audit tail -n 5
              envseal audit tail --output json | jq '.[] | select(.outcome != "Allowed")'
            """)

        @OptionGroup var store: KeyStoreOptions
        @Option(name: [.customShort("n"), .customLong("count")], help: "How many records.") var count = 10
        @Option(help: "Output format: text or json.") var output: OutputFormat = .text

        func run() async throws {
            let home = try await store.open()
            var last: [AuditRecord] = []
            var after: Int64 = 0
            while true {
                let page = try await home.store.auditRecords(after: after, limit: 1000)
                guard let end = page.last else { break }
                last = Array((last + page).suffix(count))
                after = end.sequence
            }
            switch output {
            case .text:
                let format = ISO8601DateFormatter()
                for r in last {
                    let context = (r.encryptionContext ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                    print([String(r.sequence), format.string(from: r.time), r.principal, r.operation, r.keyARN ?? "-",
                           context.isEmpty ? "-" : context, r.outcome].joined(separator: "\t"))
                }
            case .json:
                // ISO 8601 with milliseconds: a Date alone would encode as seconds since 2001.
                let format = ISO8601DateFormatter()
                format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                struct Row: Encodable {
                    let sequence: Int64; let time: String; let principal, operation: String; let keyArn: String?
                    let encryptionContext: [String: String]?; let outcome, requestId: String
                }
                try JSONOutput.print(last.map {
                    Row(sequence: $0.sequence, time: format.string(from: $0.time), principal: $0.principal, operation: $0.operation, keyArn: $0.keyARN,
                        encryptionContext: $0.encryptionContext, outcome: $0.outcome, requestId: $0.requestID)
                })
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Walk the audit log's hash chain and name the first edited, missing or reordered record.",
            discussion: """
            Exits 0 when the chain is intact, 51 when it is broken.

            Example:
              envseal audit verify --keystore KeyStore
            """)

        @OptionGroup var store: KeyStoreOptions

        func run() async throws {
            let home = try await store.open()
            let result: AuditChain.Verification
            do {
                result = try await home.engine.verifyAudit()
            } catch {
                throw CLIError("cannot read the audit log: \(error)")
            }
            if let problem = result.problem {
                throw CLIError("\(problem) (after \(result.checked) intact records)", exitCode: EnvSealExit.tampered)
            }
            print("audit log intact: \(result.checked) records")
        }
    }
}
