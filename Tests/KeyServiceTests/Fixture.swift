import Foundation
import KMSWire
import SodiumKit
import Synchronization
import Testing
@testable import KeyService

/// A settable clock for rotation and deletion tests.
final class TestClock: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { current.withLock { $0 } }
    func advance(days: Double) { current.withLock { $0 = $0.addingTimeInterval(days * 86_400) } }
}

/// An engine on a fresh store and root key, with an admin and a function principal.
struct Fixture {
    static let account = "111122223333"
    let store: any KeyStore
    let clock = TestClock()
    let kms: KeyServiceEngine
    let directory: URL
    let admin = Principal.user("admin", account: account, isAdmin: true)
    let function = Principal.user("billing-fn", account: account)
    let stranger = Principal.user("someone-else", account: "444455556666")

    init(store: any KeyStore = InMemoryKeyStore()) async throws {
        self.store = store
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-kms-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let root = try await RootKey.open(.file(directory.appendingPathComponent("root.key").path), store: store)
        let clock = self.clock
        kms = KeyServiceEngine(store: store, root: root, configuration: .init(now: { clock.now }))
    }

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }

    /// A new key made by the admin; returns its ARN.
    func newKey(policy: String? = nil, description: String = "test") async throws -> String {
        let response = try await kms.createKey(.init(policy: policy, description: description), by: admin)
        return try #require(response.keyMetadata?.arn)
    }

    func encrypt(_ text: String, key: String, context: [String: String]? = nil, as principal: Principal? = nil) async throws -> Data {
        try #require(try await kms.encrypt(.init(keyId: key, plaintext: Data(text.utf8), encryptionContext: context), by: principal ?? admin).ciphertextBlob)
    }

    func decrypt(_ blob: Data, context: [String: String]? = nil, keyId: String? = nil, as principal: Principal? = nil) async throws -> String {
        let response = try await kms.decrypt(.init(ciphertextBlob: blob, encryptionContext: context, keyId: keyId), by: principal ?? admin)
        return String(decoding: try #require(response.plaintext), as: UTF8.self)
    }
}

/// Runs `body` and returns the KMS error type it threw, or `nil` when it succeeded.
func kmsError(_ body: () async throws -> Void) async -> KMSErrorType? {
    do {
        try await body()
        return nil
    } catch let error as KMSError {
        return error.type
    } catch {
        return KMSErrorType(rawValue: "unexpected: \(error)")
    }
}

/// A least-privilege policy: the admin manages the key; billing-fn may only Decrypt, and only
/// with its own function name as encryption context.
let functionPolicy = """
{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/admin"}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "FunctionDecrypt", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/billing-fn"},
     "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringEquals": {"kms:EncryptionContext:LambdaFunctionName": "billing"}}}
  ]
}
"""
