// envseal-store-probe PATH N
//
// A helper for the SQLite store's crash-durability test, not a tool: it opens the store at PATH
// and performs N operations, cycling through insertKey (a fresh id), addVersion (on that key),
// insertAlias and appendAudit. After each operation returns it prints one line and writes it
// straight to the pipe (FileHandle does no buffering), so every line the test reads is a change
// the store has acknowledged; the test kills the process with SIGKILL at a random moment and
// checks that every acknowledged change is in the file.
//
//   key <uuid>
//   version <uuid> <number>
//   alias <name>
//   audit <sequence>
import Foundation
import KeyService
import KeyStoreSQLite

let arguments = CommandLine.arguments
guard arguments.count == 3, let count = Int(arguments[2]), count >= 0 else {
    FileHandle.standardError.write(Data("usage: envseal-store-probe PATH N\n".utf8))
    exit(64)
}

func acknowledge(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Dummy material: the probe never does cryptography, the store never looks inside.
@Sendable func material(_ seed: Int) -> [UInt8] {
    (0..<32).map { UInt8(truncatingIfNeeded: seed &+ $0) }
}

do {
    let store = try SQLiteKeyStore(path: arguments[1])
    // Alias names must differ between runs on the same file.
    let run = UUID().uuidString.prefix(8).lowercased()
    var lastKey = UUID()
    for index in 0..<count {
        let now = Date()
        switch index % 4 {
        case 0:
            let id = UUID()
            let key = KeyRecord(
                id: id, arn: "arn:aws:kms:us-east-1:111122223333:key/\(id.uuidString.lowercased())",
                account: "111122223333", description: "probe", createdAt: now, createdBy: "probe", policy: "{}")
            let first = KeyVersionRecord(
                keyID: id, version: 1, wrappedMaterial: material(index), materialID: String(repeating: "0", count: 64),
                createdAt: now, rotationType: .initial)
            try await store.insertKey(key, firstVersion: first)
            lastKey = id
            acknowledge("key \(id.uuidString)")
        case 1:
            let keyID = lastKey
            let version = try await store.addVersion(keyID: keyID) { key, number in
                key.currentVersion = number
                return KeyVersionRecord(
                    keyID: keyID, version: number, wrappedMaterial: material(index),
                    materialID: String(repeating: "1", count: 64), createdAt: now, rotationType: .onDemand)
            }
            acknowledge("version \(keyID.uuidString) \(version.version)")
        case 2:
            let name = "alias/probe-\(run)-\(index)"
            try await store.insertAlias(AliasRecord(name: name, keyID: lastKey, createdAt: now, updatedAt: now))
            acknowledge("alias \(name)")
        default:
            let record = try await store.appendAudit { last in
                let sequence = (last?.sequence ?? 0) + 1
                return AuditRecord(
                    sequence: sequence, time: now, principal: "arn:aws:iam::111122223333:user/probe",
                    operation: "Probe", keyARN: nil, encryptionContext: nil, outcome: "Allowed",
                    requestID: UUID().uuidString, previousHash: last?.hash ?? [UInt8](repeating: 0, count: 32),
                    hash: material(Int(truncatingIfNeeded: sequence)))
            }
            acknowledge("audit \(record.sequence)")
        }
    }
} catch {
    FileHandle.standardError.write(Data("envseal-store-probe: \(error)\n".utf8))
    exit(1)
}
