import Foundation
import KMSWire
import SodiumKit
import Testing
@testable import KeyService

/// Seeded keys: fixed ids and material, so a ciphertext outlives its key store; idempotent;
/// conflicts and bad files named.
@Suite("seeded keys")
struct SeedTests {
    static let id = "5eed0001-0000-4000-8000-000000000001"
    static let material = Data((0..<32).map { UInt8($0 * 7 % 256) }).base64EncodedString()

    static func file(_ keys: String) -> [UInt8] { Array(#"{"keys": [\#(keys)]}"#.utf8) }

    static let fixture = file(#"""
        {"id": "\#(id)", "description": "fixture", "material": "\#(material)", "aliases": ["alias/fixture"],
         "tags": {"purpose": "tests"}},
        {"id": "5eed0002-0000-4000-8000-000000000002", "keySpec": "HMAC_512", "keyUsage": "GENERATE_VERIFY_MAC",
         "material": "\#(Data(repeating: 9, count: 64).base64EncodedString())", "enabled": false}
        """#)

    @Test("a ciphertext made under a seeded key decrypts in another store with another root key")
    func ciphertextOutlivesTheStore() async throws {
        let first = try await Fixture()
        defer { first.cleanUp() }
        let seed = try KeySeed(json: Self.fixture, source: "seed.json")
        #expect(try await first.kms.seed(seed, by: first.admin) == [.created, .created])
        let blob = try await first.encrypt("fixture plaintext", key: "alias/fixture", context: ["k": "v"])

        let second = try await Fixture()
        defer { second.cleanUp() }
        #expect(try await second.kms.seed(seed, by: second.admin) == [.created, .created])
        #expect(try await second.decrypt(blob, context: ["k": "v"]) == "fixture plaintext")
        let metadata = try #require(try await second.kms.describeKey(.init(keyId: "alias/fixture"), by: second.admin).keyMetadata)
        #expect(metadata.keyId == Self.id)
        #expect(metadata.description == "fixture")
        let mac = try #require(try await second.kms.describeKey(.init(keyId: "5eed0002-0000-4000-8000-000000000002"), by: second.admin).keyMetadata)
        #expect(mac.keySpec == .hmac512)
        #expect(mac.keyState == .disabled)
        // The HMAC key's material is the file's.
        try await second.kms.enableKey(.init(keyId: "5eed0002-0000-4000-8000-000000000002"), by: second.admin)
        let made = try await second.kms.generateMac(.init(message: Data("m".utf8), keyId: "5eed0002-0000-4000-8000-000000000002", macAlgorithm: .hmacSha512), by: second.admin)
        #expect(made.mac.map { Array($0) } == HMAC.authenticate(Array("m".utf8), key: try SecureBytes(copying: [UInt8](repeating: 9, count: 64)), hash: .sha512))
    }

    @Test("seeding twice changes nothing; a key of another spec or material is refused naming its id, never the material")
    func idempotentAndConflicts() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let seed = try KeySeed(json: Self.fixture, source: "seed.json")
        _ = try await f.kms.seed(seed, by: f.admin)
        #expect(try await f.kms.seed(seed, by: f.admin) == [.unchanged, .unchanged])
        // What the API may change since (description, tags, state) is left alone.
        try await f.kms.disableKey(.init(keyId: Self.id), by: f.admin)
        try await f.kms.updateKeyDescription(.init(keyId: Self.id, description: "changed"), by: f.admin)
        #expect(try await f.kms.seed(seed, by: f.admin) == [.unchanged, .unchanged])
        #expect(try await f.kms.describeKey(.init(keyId: Self.id), by: f.admin).keyMetadata?.description == "changed")
        let other = Data(repeating: 1, count: 32).base64EncodedString()
        for (variant, what) in [
            (#"{"id": "\#(Self.id)", "description": "fixture", "material": "\#(other)", "tags": {"purpose": "tests"}}"#, "material"),
            (#"{"id": "\#(Self.id)", "description": "fixture", "keySpec": "HMAC_256", "tags": {"purpose": "tests"}}"#, "key spec"),
        ] {
            do {
                _ = try await f.kms.seed(try KeySeed(json: Self.file(variant), source: "s.json"), by: f.admin)
                Issue.record("a conflicting \(what) was accepted")
            } catch let error as KMSError {
                #expect(error.type == .alreadyExists)
                #expect(error.message.contains(Self.id) && error.message.contains("\(what) differs"), "\(error.message)")
                #expect(!error.message.contains(other))
            }
        }
        let otherKey = try await f.newKey()
        try await f.kms.createAlias(.init(aliasName: "alias/taken", targetKeyId: otherKey), by: f.admin)
        let taken = #"{"id": "5eed0009-0000-4000-8000-000000000009", "aliases": ["alias/taken"]}"#
        #expect(await kmsError { _ = try await f.kms.seed(try KeySeed(json: Self.file(taken), source: "s.json"), by: f.admin) } == .alreadyExists)
        #expect(await kmsError { _ = try await f.kms.seed(seed, by: f.function) } == .accessDenied)
    }

    @Test("a bad seed file is refused naming the file, the key and the member, never the material", arguments: [
        ("not json", "not valid JSON"),
        (#"{"keys": 3}"#, "\"keys\" array"),
        (#"{"keys": [{"id": "nope"}]}"#, "keys[0]: \"id\" must be a key id"),
        (#"{"keys": [{"id": "5eed0001-0000-4000-8000-000000000001", "material": "c2hvcnQ="}]}"#, "must be 32 bytes for SYMMETRIC_DEFAULT, not 5"),
        (#"{"keys": [{"id": "5eed0001-0000-4000-8000-000000000001", "material": "!!"}]}"#, "\"material\" is not base64"),
        (#"{"keys": [{"id": "5eed0001-0000-4000-8000-000000000001", "keySpec": "HMAC_224"}]}"#, "HMAC_224 is not one envseal makes"),
        (#"{"keys": [{"id": "5eed0001-0000-4000-8000-000000000001", "keySpec": "HMAC_256", "keyUsage": "ENCRYPT_DECRYPT"}]}"#, "does not go with HMAC_256"),
        (#"{"keys": [{"id": "5eed0001-0000-4000-8000-000000000001", "materail": "x"}]}"#, "unknown member \"materail\""),
        (#"{"keys": [{"id": "5eed0001-0000-4000-8000-000000000001", "aliases": ["fixture"]}]}"#, "alias fixture is not a valid alias name"),
        (#"{"keys": [{"id": "5eed0001-0000-4000-8000-000000000001"}, {"id": "5EED0001-0000-4000-8000-000000000001"}]}"#, "appears twice"),
    ])
    func badFiles(text: String, expected: String) {
        do {
            _ = try KeySeed(json: Array(text.utf8), source: "seed.json")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix("seed.json"), "\(error)")
            #expect(error.description.contains(expected), "\(error)")
            #expect(!error.description.contains("c2hvcnQ="))
        }
    }
}
