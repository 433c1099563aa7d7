import Foundation
import KMSWire
import Testing
@testable import KeyService

@Suite("concurrency and secret hygiene")
struct StressAndHygieneTests {
    @Test("8 tasks × 1,000 operations creating, rotating, encrypting and decrypting lose no update")
    func stress() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let shared = try await f.newKey()
        let results = try await withThrowingTaskGroup(of: (rotations: Int, checked: Int).self) { group in
            for task in 0..<8 {
                group.addTask {
                    var rotations = 0, checked = 0
                    var own = try await f.newKey()
                    var blobs: [(Data, String, [String: String])] = []
                    for i in 0..<1000 {
                        switch i % 10 {
                        case 0 where i % 200 == 0:
                            own = try await f.newKey()
                        case 1 where rotations < 3:
                            _ = try await f.kms.rotateKeyOnDemand(.init(keyId: shared), by: f.admin)
                            rotations += 1
                        case 2, 3, 4:
                            let text = "task\(task)-op\(i)"
                            let context = ["task": "\(task)", "op": "\(i)"]
                            blobs.append((try await f.encrypt(text, key: i % 2 == 0 ? shared : own, context: context), text, context))
                        default:
                            if let (blob, text, context) = blobs.randomElement() {
                                #expect(try await f.decrypt(blob, context: context) == text)
                                checked += 1
                            } else {
                                _ = try await f.kms.generateDataKey(.init(keyId: own, keySpec: .aes256), by: f.admin)
                            }
                        }
                    }
                    for (blob, text, context) in blobs {
                        #expect(try await f.decrypt(blob, context: context) == text)
                        checked += 1
                    }
                    return (rotations, checked)
                }
            }
            var all: [(Int, Int)] = []
            for try await result in group { all.append(result) }
            return all
        }
        let totalRotations = results.map(\.0).reduce(0, +)
        let id = try #require(UUID(uuidString: String(shared.split(separator: "/").last!)))
        let versions = try await f.store.versions(keyID: id)
        #expect(versions.map(\.version) == Array(1...UInt32(totalRotations + 1)), "every rotation made exactly one new version")
        #expect(try await f.store.key(id: id)?.currentVersion == UInt32(totalRotations + 1))
        #expect(results.map(\.1).reduce(0, +) > 8 * 400)
        let verification = try await f.kms.verifyAudit()
        #expect(verification.problem == nil && verification.checked > 8 * 1000)
    }

    @Test("a canary secret never appears in the audit log, errors or descriptions")
    func canary() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let canary = "CANARY-5f1e9a-plaintext-never-logged"
        let key = try await f.newKey(policy: functionPolicy)
        let blob = try await f.encrypt(canary, key: key, context: ["LambdaFunctionName": "billing"])
        var texts: [String] = []
        func record(_ body: () async throws -> Void) async {
            do { try await body() } catch { texts.append(String(describing: error)); texts.append(String(reflecting: error)) }
        }
        await record { _ = try await f.decrypt(blob, context: ["LambdaFunctionName": "other"]) }
        await record { _ = try await f.decrypt(blob, context: ["LambdaFunctionName": "billing"], as: f.stranger) }
        await record { _ = try await f.encrypt(canary, key: key, as: f.function) }
        await record { _ = try await f.kms.encrypt(.init(keyId: key, plaintext: Data((canary + String(repeating: "x", count: 5000)).utf8)), by: f.admin) }
        await record { _ = try await f.kms.encrypt(.init(keyId: canary, plaintext: Data(canary.utf8)), by: f.admin) }
        var badBlob = blob
        badBlob[50] ^= 1
        await record { _ = try await f.decrypt(badBlob, context: ["LambdaFunctionName": "billing"]) }
        let audit = try await f.store.auditRecords(after: 0, limit: 1000)
        texts += audit.map { "\($0)" }
        let encoded = try JSONEncoder().encode(audit)
        texts.append(String(decoding: encoded, as: UTF8.self))
        #expect(texts.count > 10)
        for text in texts where text.contains("CANARY-5f1e9a-plaintext") {
            // A key id that is the canary itself may be echoed back as the caller's own input; the plaintext never.
            #expect(text.contains("Invalid keyId"), "the canary leaked into: \(text.replacingOccurrences(of: canary, with: "<canary>"))")
        }
    }
}
