import Foundation
import SodiumKit
import Testing
@testable import KeyService

@Suite("audit group commit and request ids")
struct AuditCommitterTests {
    @Test("concurrent appends each return once their own record is stored, in one unbroken chain")
    func concurrentAppends() async throws {
        let chain = AuditChain(root: RootKey(material: KeyMaterial.random()))
        let store = InMemoryKeyStore()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    try await chain.append(to: store, time: Date(), principal: "arn:aws:iam::111122223333:user/fn", operation: "Decrypt",
                                           keyARN: nil, context: ["i": "\(i)"], outcome: "Allowed", requestID: "r-\(i)")
                    let stored = try await store.auditRecords(after: 0, limit: 1000)
                    #expect(stored.contains { $0.requestID == "r-\(i)" }, "record \(i) committed before its append returned")
                }
            }
            try await group.waitForAll()
        }
        let records = try await store.auditRecords(after: 0, limit: 1000)
        #expect(records.map(\.sequence) == Array(1...200))
        #expect(Set(records.map(\.requestID)).count == 200)
        let verification = try await chain.verify(store)
        #expect(verification.checked == 200 && verification.problem == nil)
    }

    @Test("a store that refuses fails every waiting append, and the next append is written")
    func refusedAppendsFailEveryCaller() async throws {
        let chain = AuditChain(root: RootKey(material: KeyMaterial.random()))
        let refusing = ReplayStore(records: [])
        let failures = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<50 {
                group.addTask {
                    do {
                        try await chain.append(to: refusing, time: Date(), principal: "p", operation: "Decrypt", keyARN: nil,
                                               context: nil, outcome: "Allowed", requestID: "r-\(i)")
                        return false
                    } catch {
                        return error is KeyStoreError
                    }
                }
            }
            var failed = 0
            for await refused in group where refused { failed += 1 }
            return failed
        }
        #expect(failures == 50)
        // The writer's turn was given back: a working store takes the next record.
        let store = InMemoryKeyStore()
        try await chain.append(to: store, time: Date(), principal: "p", operation: "Decrypt", keyARN: nil, context: nil,
                               outcome: "Allowed", requestID: "after")
        #expect(try await store.auditRecords(after: 0, limit: 10).map(\.requestID) == ["after"])
    }

    @Test("the in-memory log reads across its chunks: every record once, in order")
    func inMemoryLogChunks() async throws {
        let chain = AuditChain(root: RootKey(material: KeyMaterial.random()))
        let store = InMemoryKeyStore()
        let entries = (0..<5000).map {
            AuditChain.Entry(time: Date(timeIntervalSince1970: 1_800_000_000), principal: "p", operation: "Decrypt", keyARN: nil,
                             context: nil, outcome: "Allowed", requestID: "r-\($0)")
        }
        _ = try await store.appendAudit(batch: { previous in try chain.link(entries, after: previous) })
        try await chain.append(to: store, time: Date(), principal: "p", operation: "Decrypt", keyARN: nil, context: nil,
                               outcome: "Allowed", requestID: "last")
        #expect(try await store.auditRecords(after: 4094, limit: 3).map(\.sequence) == [4095, 4096, 4097])
        #expect(try await store.auditRecords(after: 5000, limit: 10).map(\.requestID) == ["last"])
        #expect(try await store.auditRecords(after: 5001, limit: 10).isEmpty)
        #expect(try await store.auditRecords(after: -3, limit: 2).map(\.sequence) == [1, 2])
        #expect(try await store.auditRecords(after: 0, limit: 0).isEmpty)
        let verification = try await chain.verify(store)
        #expect(verification.checked == 5001 && verification.problem == nil)
    }

    @Test("request ids are lowercase 8-4-4-4-12 hex and do not repeat across pool refills")
    func requestIDs() {
        let ids = (0..<1000).map { _ in RequestID.make() }
        #expect(Set(ids).count == 1000)
        for id in ids {
            let bytes = Array(id.utf8)
            #expect(bytes.count == 36)
            for (index, byte) in bytes.enumerated() {
                if [8, 13, 18, 23].contains(index) {
                    #expect(byte == UInt8(ascii: "-"))
                } else {
                    #expect((UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte))
                }
            }
        }
    }
}
