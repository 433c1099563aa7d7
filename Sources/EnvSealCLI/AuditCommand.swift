import ArgumentParser
import Foundation
import KeyServer
import KeyService

/// `envseal audit`: the key service's hash-chained audit log.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check the audit log of the embedded key store.",
        subcommands: [Verify.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
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
