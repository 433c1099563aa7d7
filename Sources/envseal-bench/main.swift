// envseal-bench: in-process benchmarks of the key service engine.
//
// Runs each operation in repetitions of a fixed count, after a warm-up, and prints medians with
// the min–max spread, so a noisy 2-core machine still gives comparable numbers. Run through
// `make bench` (release build).
//
// A second table breaks one signed, policy-checked, audited Decrypt into the stages the server
// runs it in (SigV4, JSON, principal, policy, key, material, AEAD, audit), each measured alone,
// then the whole engine call and the whole signed request short of HTTP.
import EnvSealFormat
import Foundation
import KMSWire
import KeyService
import KeyStoreSQLite
import SodiumKit

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

/// One signed Decrypt's stages, each measured alone on `store`; the stages that do not touch the
/// store are measured on the in-memory one only (`storeBound: false`).
func stages(storeName: String, store: any KeyStore, directory: URL, repetitions: Int, count: Int) async throws -> [Measurement] {
    let root = try await RootKey.open(.file(directory.appendingPathComponent("root.key").path), store: store)
    let kms = KeyServiceEngine(store: store, root: root)
    let account = kms.configuration.account
    let principals = PrincipalDirectory(store: store, root: root, account: account)
    let adminCredentials = try await principals.create(name: "bench-admin", isAdmin: true)
    let functionCredentials = try await principals.create(name: "bench-fn")
    let granteeCredentials = try await principals.create(name: "bench-grantee")
    let admin = PrincipalDirectory.principal(adminCredentials.record)
    let function = PrincipalDirectory.principal(functionCredentials.record)
    let grantee = PrincipalDirectory.principal(granteeCredentials.record)
    let context = ["LambdaFunctionName": "bench"]
    let plaintext = Data(repeating: 0x61, count: 32)

    // The serverless case: the function's principal is named in the key policy, for Decrypt only,
    // under a condition on the encryption context and one on the transport.
    let policy = """
        {"Version": "2012-10-17", "Statement": [
          {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "\(admin.arn)"}, "Action": "kms:*", "Resource": "*"},
          {"Sid": "Function", "Effect": "Allow", "Principal": {"AWS": "\(function.arn)"}, "Action": "kms:Decrypt", "Resource": "*",
           "Condition": {"StringEquals": {"kms:EncryptionContext:LambdaFunctionName": "bench"}, "Bool": {"aws:SecureTransport": "true"}}}
        ]}
        """
    let keyARN = try await kms.createKey(.init(policy: policy, description: "bench"), by: admin).keyMetadata!.arn!
    let blob = try await kms.encrypt(.init(keyId: keyARN, plaintext: plaintext, encryptionContext: context), by: admin).ciphertextBlob!
    let parsed = try CiphertextBlob(parsing: blob)
    // A key with the default policy (its creator only), used by the grantee through a grant.
    let grantedARN = try await kms.createKey(.init(description: "bench grant"), by: admin).keyMetadata!.arn!
    _ = try await kms.createGrant(.init(keyId: grantedARN, granteePrincipal: grantee.arn, operations: [.decrypt]), by: admin)
    let granted = try await kms.stageKeyLookup(try CiphertextBlob(parsing: try await kms.encrypt(
        .init(keyId: grantedARN, plaintext: plaintext, encryptionContext: context), by: admin).ciphertextBlob!).keyID)
    let defaultKey = try await kms.stageKeyLookup(
        try CiphertextBlob(parsing: try await kms.encrypt(.init(keyId: grantedARN, plaintext: plaintext), by: admin).ciphertextBlob!).keyID)
    let key = try await kms.stageKeyLookup(parsed.keyID)
    // The engine table's Decrypt: an admin on a key of its own with the default policy.
    let adminARN = try await kms.createKey(.init(description: "bench admin"), by: admin).keyMetadata!.arn!
    let adminBlob = try await kms.encrypt(.init(keyId: adminARN, plaintext: plaintext, encryptionContext: context), by: admin).ciphertextBlob!
    let macARN = try await kms.createKey(.init(keyUsage: .generateVerifyMac, keySpec: .hmac256), by: admin).keyMetadata!.arn!
    let macKey = try await kms.stageKeyLookup(UUID(uuidString: String(macARN.split(separator: "/").last!))!)

    // The request as the SDKs send it, signed by the function's credentials.
    let body = try KMSJSON.encoder().encode(KMS.DecryptRequest(ciphertextBlob: blob, encryptionContext: context))
    let signingTime = Date()
    let signed = try SigV4Signer(region: kms.configuration.region).sign(
        SigV4Request(method: "POST", path: "/", headers: [
            .init("Host", "localhost:4000"), .init("Content-Type", KMSJSON.contentType),
            .init("X-Amz-Target", KMSOperation.decrypt.target),
        ], body: body),
        credentials: SigV4Credentials(accessKeyID: functionCredentials.record.accessKeyID, secretAccessKey: functionCredentials.secretAccessKey),
        date: signingTime)
    let secret = functionCredentials.secretAccessKey
    let verifier = SigV4Verifier(region: kms.configuration.region)
    let uncachedVerifier = SigV4Verifier(region: kms.configuration.region, signingKeyCacheCapacity: 0)
    let response = try await kms.decrypt(.init(ciphertextBlob: blob, encryptionContext: context), by: function)
    let material = try await kms.stageMaterial(key, version: parsed.keyVersion)
    let record = AuditRecord(
        sequence: 1, time: Date(), principal: function.arn, operation: "Decrypt", keyARN: keyARN, encryptionContext: context,
        outcome: "Allowed", requestID: UUID().uuidString.lowercased(), previousHash: [UInt8](repeating: 0, count: 32), hash: [])
    let origin = RequestOrigin(secureTransport: true, sourceAddress: "127.0.0.1")

    var out: [Measurement] = []
    func stage(_ name: String, storeBound: Bool = false, _ body: () async throws -> Void) async throws {
        guard storeBound || storeName == "memory", onlyStage.map({ name.contains($0) }) ?? true else { return }
        out.append(try await measure(name, store: storeBound ? storeName : "–", repetitions: repetitions, count: count, body))
    }
    try await RequestOrigin.$current.withValue(origin) {
        try await stage("SigV4 verify, signing key cached") {
            _ = try await verifier.verify(signed, now: signingTime) { _ in secret }
        }
        try await stage("SigV4 verify, signing key derived") {
            _ = try await uncachedVerifier.verify(signed, now: signingTime) { _ in secret }
        }
        try await stage("JSON decode DecryptRequest") {
            _ = try KMSJSON.decodeRequest(KMS.DecryptRequest.self, from: body)
        }
        try await stage("JSON encode DecryptResponse") {
            _ = try KMSJSON.encodeResponse(response)
        }
        try await stage("principal lookup (cached)") {
            guard let (found, _) = try await principals.lookUp(accessKeyID: functionCredentials.record.accessKeyID) else { throw KMSError(.unrecognizedClient, "gone") }
            _ = PrincipalDirectory.principal(found)
        }
        try await stage("policy: key policy, condition keys") {
            try await kms.stageAuthorizeDecrypt(function, key: key, context: context)
        }
        try await stage("policy: key and identity policy, no condition") {
            try await kms.stageAuthorizeDecrypt(admin, key: defaultKey, context: context)
        }
        try await stage("policy: through a grant", storeBound: true) {
            try await kms.stageAuthorizeDecrypt(grantee, key: granted, context: context)
        }
        try await stage("key lookup (record cache)") {
            _ = try await kms.stageKeyLookup(parsed.keyID)
        }
        try await stage("material (material cache)") {
            _ = try await kms.stageMaterial(key, version: parsed.keyVersion)
        }
        try await stage("material unwrap (cache miss)", storeBound: true) {
            _ = try await kms.stageUnwrap(key, version: parsed.keyVersion)
        }
        try await stage("HMAC material (material cache)") {
            _ = try await kms.stageHMACMaterial(macKey)
        }
        try await stage("HMAC material unwrap (cache miss)", storeBound: true) {
            _ = try await kms.stageHMACUnwrap(macKey)
        }
        try await stage("AEAD open 32 B (blob, context, XChaCha20-Poly1305)") {
            _ = try CiphertextBlob(parsing: blob).openForTransfer(key: material, context: EncryptionContext(context))
        }
        try await stage("audit record hash (chain link)") {
            _ = try kms.stageAuditHash(record)
        }
        try await stage("audit record's stored context (JSON text)") {
            _ = try record.storedContext()
        }
        try await stage("audit append (link and commit)", storeBound: true) {
            try await kms.stageAuditAppend(function, keyARN: keyARN, context: context, requestID: "bench-request")
        }
        try await stage("engine Decrypt (typed)", storeBound: true) {
            _ = try await kms.decrypt(.init(ciphertextBlob: blob, encryptionContext: context), by: function, requestID: "bench-request")
        }
        try await stage("engine Decrypt (typed), admin, default policy", storeBound: true) {
            _ = try await kms.decrypt(.init(ciphertextBlob: adminBlob, encryptionContext: context), by: admin)
        }
        try await stage("engine Decrypt (JSON in, JSON out)", storeBound: true) {
            _ = try await kms.handle(.decrypt, body: body, by: function, requestID: "bench-request")
        }
        try await stage("signed Decrypt short of HTTP (SigV4, principal, engine)", storeBound: true) {
            _ = try await verifier.verify(signed, now: signingTime) { id in try await principals.lookUp(accessKeyID: id)?.1 }
            guard let (found, _) = try await principals.lookUp(accessKeyID: functionCredentials.record.accessKeyID) else { throw KMSError(.unrecognizedClient, "gone") }
            _ = try await kms.handle(.decrypt, body: body, by: PrincipalDirectory.principal(found), requestID: "bench-request")
        }
    }
    return out
}

let arguments = CommandLine.arguments
let quick = arguments.contains("--smoke")
/// `--stage NAME`: only the stages whose name contains NAME, on the in-memory store, nothing else;
/// with `--count N`, N operations in one repetition (for `valgrind --tool=callgrind` or perf).
func option(_ name: String) -> String? {
    arguments.firstIndex(of: name).flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil }
}
let onlyStage = option("--stage")
let repetitions = quick || onlyStage != nil ? 1 : 7
let count = option("--count").flatMap(Int.init) ?? (quick ? 50 : 2000)
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: directory) }

if onlyStage != nil {
    for m in try await stages(storeName: "memory", store: InMemoryKeyStore(), directory: directory.appendingPathComponent("stages-mem"),
                              repetitions: repetitions, count: count) {
        print("\(m.name): \(Int((median(m.perOperation) * 1000).rounded())) ns/op")
    }
    try? FileManager.default.removeItem(at: directory)  // exit skips the defer above
    exit(0)
}

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

var stageResults = try await stages(storeName: "memory", store: InMemoryKeyStore(), directory: directory.appendingPathComponent("stages-mem"),
                                    repetitions: repetitions, count: count)
let stageSQLite = try SQLiteKeyStore(path: directory.appendingPathComponent("stages-sqlite/keystore.sqlite").path)
stageResults += try await stages(storeName: "sqlite", store: stageSQLite, directory: directory.appendingPathComponent("stages-sqlite"),
                                 repetitions: repetitions, count: count)

// The stage table: what bench/run.py keeps and bench/report.py renders after the table above.
print("")
print("Stages of one signed Decrypt of 32 bytes by a function principal (key policy with conditions), each alone, "
      + "\(repetitions) repetitions × \(count) operations; store – is a stage that does not touch the store")
print("")
print("| stage | store | median ns/op | min–max ns/op |")
print("|---|---|---:|---:|")
for m in stageResults {
    let ns = { (x: Double) in String(Int((x * 1000).rounded())) }
    print("| \(m.name) | \(m.store) | \(ns(median(m.perOperation))) | \(ns(m.perOperation.min()!))–\(ns(m.perOperation.max()!)) |")
}
