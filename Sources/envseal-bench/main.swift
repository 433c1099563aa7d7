// envseal-bench: in-process benchmarks of the key service engine.
//
// Runs each operation in repetitions of a fixed count, after a warm-up, and prints medians with
// the min–max spread, so a noisy 2-core machine still gives comparable numbers. Run through
// `make bench` (release build).
import Foundation
import KMSWire
import KeyService
import KeyStoreSQLite

struct Measurement {
    let name: String
    let store: String
    let perOperation: [Double]  // microseconds, one per repetition
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func measure(_ name: String, store: String, repetitions: Int, count: Int, _ body: () async throws -> Void) async throws -> Measurement {
    for _ in 0..<min(count, 200) { try await body() }  // warm-up: caches, allocator, JIT-free but page faults
    var results: [Double] = []
    for _ in 0..<repetitions {
        let clock = ContinuousClock()
        let elapsed = try await clock.measure {
            for _ in 0..<count { try await body() }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        results.append(seconds / Double(count) * 1e6)
    }
    return Measurement(name: name, store: store, perOperation: results)
}

func run(storeName: String, store: any KeyStore, directory: URL, repetitions: Int, count: Int) async throws -> [Measurement] {
    let root = try await RootKey.open(.file(directory.appendingPathComponent("root.key").path), store: store)
    let kms = KeyServiceEngine(store: store, root: root)
    let admin = Principal.user("admin", account: kms.configuration.account, isAdmin: true)
    let key = try await kms.createKey(.init(description: "bench"), by: admin).keyMetadata!.arn!
    let context = ["LambdaFunctionName": "bench"]
    let plaintext = Data(repeating: 0x61, count: 32)
    let blob = try await kms.encrypt(.init(keyId: key, plaintext: plaintext, encryptionContext: context), by: admin).ciphertextBlob!
    var out: [Measurement] = []
    out.append(try await measure("Encrypt 32 B", store: storeName, repetitions: repetitions, count: count) {
        _ = try await kms.encrypt(.init(keyId: key, plaintext: plaintext, encryptionContext: context), by: admin)
    })
    out.append(try await measure("Decrypt 32 B", store: storeName, repetitions: repetitions, count: count) {
        _ = try await kms.decrypt(.init(ciphertextBlob: blob, encryptionContext: context), by: admin)
    })
    out.append(try await measure("GenerateDataKey AES_256", store: storeName, repetitions: repetitions, count: count) {
        _ = try await kms.generateDataKey(.init(keyId: key, encryptionContext: context, keySpec: .aes256), by: admin)
    })
    return out
}

let arguments = CommandLine.arguments
let quick = arguments.contains("--smoke")
let repetitions = quick ? 1 : 7
let count = quick ? 50 : 2000
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: directory) }

var results = try await run(storeName: "memory", store: InMemoryKeyStore(), directory: directory.appendingPathComponent("mem"),
                            repetitions: repetitions, count: count)
let sqlite = try SQLiteKeyStore(path: directory.appendingPathComponent("sqlite/keystore.sqlite").path)
results += try await run(storeName: "sqlite", store: sqlite, directory: directory.appendingPathComponent("sqlite"),
                         repetitions: repetitions, count: count)

print("envseal engine benchmark: \(repetitions) repetitions × \(count) operations, \(ProcessInfo.processInfo.activeProcessorCount) cores")
print("| operation | store | median µs/op | min–max µs/op | ops/s (median) |")
print("|---|---|---:|---:|---:|")
for m in results {
    let med = median(m.perOperation)
    let f = { (x: Double) in String(format: "%.1f", x) }
    print("| \(m.name) | \(m.store) | \(f(med)) | \(f(m.perOperation.min()!))–\(f(m.perOperation.max()!)) | \(Int(1e6 / med)) |")
}
