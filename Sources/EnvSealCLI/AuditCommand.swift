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
            not secret (as in AWS CloudTrail). In the text form each record is one line of \
            tab-separated fields, and text a caller chose is escaped: a backslash as \\\\, tab, \
            newline and carriage return as \\t, \\n, \\r, other control characters as \\xHH \
            or \\uHHHH (so are line separators and bidirectional overrides), and , and = inside \
            a context key or value as \\x2c and \\x3d. The audit log is the embedded store's; a remote \
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
                    let context = (r.encryptionContext ?? [:]).sorted { $0.key < $1.key }
                        .map { AuditText.escape($0.key, also: ",=") + "=" + AuditText.escape($0.value, also: ",=") }
                        .joined(separator: ",")
                    let fields = [r.principal, r.operation, r.keyARN ?? "-"].map { AuditText.escape($0) }
                    print(([String(r.sequence), format.string(from: r.time)] + fields
                           + [context.isEmpty ? "-" : context, AuditText.escape(r.outcome)]).joined(separator: "\t"))
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

/// Text from audit records, made safe to print one record per line on a terminal.
enum AuditText {
    /// `text` with every character that could end a line, split a field, move the cursor or
    /// reorder what a terminal shows replaced by a visible escape: a caller chooses the
    /// encryption context, and must not be able to forge a record line or send escape sequences
    /// to the operator's terminal. A backslash is escaped too, so the escapes cannot be forged.
    /// - Parameters:
    ///   - text: A field of a record.
    ///   - also: Further characters to escape, as `\xHH` (the context's `,` and `=`).
    static func escape(_ text: String, also separators: String = "") -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x5C: escaped += "\\\\"
            case 0x09: escaped += "\\t"
            case 0x0A: escaped += "\\n"
            case 0x0D: escaped += "\\r"
            case 0x00...0x1F, 0x7F: escaped += "\\x" + hex(scalar.value, digits: 2)
            // C1 controls (0x9B is a CSI on some terminals), line and paragraph separators,
            // bidirectional embeddings, overrides and isolates.
            case 0x80...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069:
                escaped += "\\u" + hex(scalar.value, digits: 4)
            default:
                if separators.unicodeScalars.contains(scalar) {
                    escaped += "\\x" + hex(scalar.value, digits: 2)
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
