import Foundation
import KeyService
import Testing

extension KeyStoreConformance {
    /// The audit log: one hash chain, also under concurrent appends.
    @Suite("Audit")
    struct Audit {
        @Test(arguments: StoreKind.allCases)
        func auditRecordsFormASequence(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                #expect(try await store.auditRecords(after: 0, limit: 10) == [])
                var appended: [AuditRecord] = []
                for _ in 0..<5 {
                    appended.append(try await store.appendAudit { Fixtures.nextAudit(after: $0) })
                }
                #expect(appended.map(\.sequence) == [1, 2, 3, 4, 5])
                #expect(Fixtures.isChain(appended))

                let skipped = await #expect(throws: KeyStoreError.self) {
                    try await store.appendAudit { last in
                        var record = Fixtures.nextAudit(after: last)
                        record.sequence += 1
                        return record
                    }
                }
                #expect(skipped?.kind == .alreadyExists)
                await #expect(throws: Refused.self) {
                    try await store.appendAudit { _ in throw Refused() }
                }
                // A batch whose second record skips a number writes nothing at all.
                let brokenBatch = await #expect(throws: KeyStoreError.self) {
                    try await store.appendAudit(batch: { last in
                        let first = Fixtures.nextAudit(after: last)
                        var second = Fixtures.nextAudit(after: first.head)
                        second.sequence += 1
                        return [first, second]
                    })
                }
                #expect(brokenBatch?.kind == .alreadyExists)
                #expect(try await store.auditRecords(after: 0, limit: 100) == appended)

                // A batch appends its records in order, in one go.
                let batch = try await store.appendAudit(batch: { last in
                    let first = Fixtures.nextAudit(after: last)
                    let second = Fixtures.nextAudit(after: first.head)
                    return [first, second, Fixtures.nextAudit(after: second.head)]
                })
                #expect(batch.map(\.sequence) == [6, 7, 8])
                #expect(try await store.auditRecords(after: 5, limit: 100) == batch)
                #expect(Fixtures.isChain(appended + batch))
                #expect(try await store.auditRecords(after: 0, limit: 2) == Array(appended[0..<2]))
                #expect(try await store.auditRecords(after: 2, limit: 2) == Array(appended[2..<4]))
                #expect(try await store.auditRecords(after: 4, limit: 2) == [appended[4], batch[0]])
                #expect(try await store.auditRecords(after: 8, limit: 2) == [])
                #expect(try await store.auditRecords(after: 0, limit: 0) == [])
            }
        }

        @Test(arguments: StoreKind.allCases)
        func concurrentAuditAppendsFormOneChain(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                let sequences = try await Fixtures.concurrently(tasks: 8, each: 100) {
                    try await store.appendAudit { Fixtures.nextAudit(after: $0) }.sequence
                }
                #expect(Set(sequences) == Set(1...800))
                let records = try await Fixtures.allAudit(of: store)
                #expect(records.map(\.sequence) == Array(1...800))
                #expect(Fixtures.isChain(records))
            }
        }
    }
}
