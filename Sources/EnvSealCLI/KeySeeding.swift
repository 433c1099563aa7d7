import ArgumentParser
import Foundation
import KMSWire
import KeyService
import KeyStoreFolder

/// `envseal keys seed FILE`: the seed file's keys in the embedded store.
struct KeysSeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Create test keys with fixed ids, aliases and material from a seed file (JSON); idempotent.",
        discussion: """
        For tests: a key whose material is in the seed file is only as secret as that file. Keys and \
        aliases that exist already are left alone when they match the file, and refused (naming \
        the key id) when they do not. The format is in docs/KEY-SERVICE.md ("Seeded keys").

        Example:
          envseal keys seed tests/fixtures/seed.json
        """
    )

    @Argument(help: "The seed file (JSON).") var file: String
    @OptionGroup var store: KeyStoreOptions

    func run() async throws {
        let home = try await store.open(creating: true)
        let outcomes = try await KeySeeding.apply(file, home: home, region: store.region)
        print(KeySeeding.summary(outcomes, file: file))
    }
}

/// Applying a seed file to a key store, for `envseal keys seed` and `envseal server --seed`.
enum KeySeeding {
    /// Reads the seed file and creates its keys as the store's admin.
    /// - Throws: ``CLIError`` naming the file and what is wrong in it, or which key conflicts.
    static func apply(_ path: String, home: KeyStoreHome, region: String) async throws -> [KeyServiceEngine.SeedOutcome] {
        let seed: KeySeed
        do {
            seed = try KeySeed(json: try FileIO.readBytes(path), source: path)
        } catch let error as KeySeedError {
            throw CLIError(error.description, exitCode: EnvSealExit.configuration)
        }
        _ = try await home.ensureAdmin(region: region)
        guard let admin = try await home.store.principals().first(where: { $0.isAdmin && $0.isEnabled }) else {
            throw CLIError("the key store has no enabled admin principal to seed keys as",
                           hint: "enable one with `envseal principals enable`", exitCode: EnvSealExit.configuration)
        }
        do {
            return try await home.engine.seed(seed, by: PrincipalDirectory.principal(admin))
        } catch {
            throw CLIError("\(path): \(error.message)", exitCode: EnvSealExit.configuration)
        }
    }

    /// One line: how many keys were created and how many were there already.
    static func summary(_ outcomes: [KeyServiceEngine.SeedOutcome], file: String) -> String {
        let created = outcomes.filter { $0 == .created }.count
        return "seeded \(file): \(created) key\(created == 1 ? "" : "s") created, \(outcomes.count - created) already present"
    }
}
