import EnvSealFormat
import Foundation
import KMSClient
import KMSWire
import KeyService
@testable import SealedDotenv
import SodiumKit
import Testing

/// A key service that cannot be reached.
struct UnreachableTransport: KMSTransport {
    func send(_ operation: KMSOperation, body: Data) async throws -> Data {
        throw KMSTransportError(.unreachable, "connection refused")
    }
}

/// Files sealed for several keys (header version 2): any slot opens, slots are added and
/// removed without touching values, and tampering with a slot is caught.
@Suite("key slots")
struct KeySlotTests {
    static let plain = "API_KEY=sk_live_0123456789\nDB_PASSWORD=hunter2\nREGION=eu-west-1\n"

    static func header(_ file: DotenvFile) throws -> SealedFileHeader {
        try SealedFileHeader(parsing: try #require(file.value(of: "ENVSEAL")))
    }

    /// Every line but the header's.
    static func valueLines(_ file: DotenvFile) -> [String] {
        text(file).split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("ENVSEAL=") }.map(String.init)
    }

    @Test("two keys: two slots with ARNs; the first opens with one Decrypt; the second when the first is disabled")
    func twoKeys() async throws {
        let f = try await Fixture()
        let second = try await f.newKey()
        let sealed = try await f.sealer.seal(try parse(Self.plain), for: [.kms(keyID: f.keyARN, context: .empty),
                                                                            .kms(keyID: second, context: .empty)], selection: .all)
        let header = try Self.header(sealed)
        #expect(header.version == 2)
        #expect(header.kmsSlots.map(\.keyARN) == [f.keyARN, second])
        let before = f.transport.count(.decrypt)
        let opened = try await f.sealer.open(sealed)
        #expect(f.transport.count(.decrypt) == before + 1)
        #expect(opened.slotIndex == 0 && opened.keyARN == f.keyARN)
        #expect(plaintexts(opened)["DB_PASSWORD"] == "hunter2")

        try await f.engine.disableKey(.init(keyId: f.keyARN), by: f.admin)
        let viaSecond = try await f.sealer.open(sealed)
        #expect(viaSecond.slotIndex == 1 && viaSecond.keyARN == second)

        _ = try await f.engine.scheduleKeyDeletion(.init(keyId: second, pendingWindowInDays: 7), by: f.admin)
        let error = await thrown { _ = try await f.sealer.open(sealed) }
        let sealedError = try #require(error as? SealedFileError)
        guard case .noSlotOpens(let failures) = sealedError.kind else { Issue.record("not noSlotOpens: \(sealedError)"); return }
        #expect(failures.map(\.slot) == [1, 2])
        #expect(failures.map(\.kind) == [.keyUnavailable, .keyUnavailable])
        #expect(!sealedError.description.contains("hunter2") && sealedError.description.contains(second))
        #expect(ErrorClassification(sealedError).kind == .keyUnavailable)
    }

    @Test("a single key writes one slot without its ARN, as version 1 did")
    func singleKeyLeavesARNOut() async throws {
        let f = try await Fixture()
        let sealed = try await f.sealer.seal(try parse(Self.plain), keyID: f.keyARN, context: .empty, selection: .all)
        let header = try Self.header(sealed)
        #expect(header.version == 2 && header.slots.count == 1 && header.kmsSlots[0].keyARN == nil)
    }

    @Test("two key services: each key is made or wrapped where it lives; either service alone opens the file")
    func twoKeyServices() async throws {
        let a = try await Fixture(), b = try await Fixture()
        let providers: [any DataKeyProvider] = [KMSDataKeyProvider(client: KMSClient(transport: a.transport)),
                                                KMSDataKeyProvider(client: KMSClient(transport: b.transport))]
        let both = SealedFile(providers: providers)
        let sealed = try await both.seal(try parse(Self.plain), for: [.kms(keyID: a.keyARN, context: .empty),
                                                                      .kms(keyID: b.keyARN, context: .empty)], selection: .all)
        #expect(a.transport.count(.generateDataKey) == 1 && b.transport.count(.encrypt) == 1)
        let decrypts = (a.transport.count(.decrypt), b.transport.count(.decrypt))
        _ = try await both.open(sealed)
        #expect(a.transport.count(.decrypt) == decrypts.0 + 1 && b.transport.count(.decrypt) == decrypts.1)

        // The first service stopped: the second opens it.
        let firstDown = SealedFile(providers: [KMSDataKeyProvider(client: KMSClient(transport: UnreachableTransport())), providers[1]])
        #expect(try await firstDown.open(sealed).keyARN == b.keyARN)
        // The second stopped: the first opens it.
        let secondDown = SealedFile(providers: [providers[0], KMSDataKeyProvider(client: KMSClient(transport: UnreachableTransport()))])
        #expect(try await secondDown.open(sealed).keyARN == a.keyARN)
        // Neither: every slot and service is reported, as unreachable.
        let neither = SealedFile(providers: [KMSDataKeyProvider(client: KMSClient(transport: UnreachableTransport()))])
        let error = await thrown { _ = try await neither.open(sealed) }
        #expect(ErrorClassification(try #require(error)).kind == .unreachable)
    }

    @Test("a slot changed without re-MACing is tampering, even when another slot opens")
    func tamperedSlot() async throws {
        let f = try await Fixture()
        let second = try await f.newKey()
        let sealed = try await f.sealer.seal(try parse(Self.plain), for: [.kms(keyID: f.keyARN, context: .empty),
                                                                            .kms(keyID: second, context: .empty)], selection: .all)
        let opened = try await f.sealer.open(sealed)
        var slots = opened.header.slots
        guard case .kms(var kms) = slots[1] else { Issue.record("slot 2 is not a key slot"); return }
        kms.wrappedDataKey[40] ^= 1
        slots[1] = .kms(kms)
        // Re-encoded with the old MAC (and the old tags): what an attacker without the data key can write.
        let forged = try SealedFileHeader.make(slots: slots, variables: opened.variables, keys: opened.keys)
        var forgedBytes = try Base64URL.decode(forged.text, field: "h")
        forgedBytes.replaceSubrange(forgedBytes.count - 16..<forgedBytes.count, with: opened.header.mac.bytes)
        var tampered = sealed
        try tampered.set("ENVSEAL", to: Base64URL.encode(forgedBytes))
        let error = await thrown { _ = try await f.sealer.open(tampered) }
        #expect((error as? FormatError)?.kind == .headerMACMismatch)
        // Dropping a slot is caught the same way.
        let dropped = try SealedFileHeader.make(slots: [slots[0]], variables: opened.variables, keys: opened.keys)
        var droppedBytes = try Base64URL.decode(dropped.text, field: "h")
        droppedBytes.replaceSubrange(droppedBytes.count - 16..<droppedBytes.count, with: opened.header.mac.bytes)
        try tampered.set("ENVSEAL", to: Base64URL.encode(droppedBytes))
        #expect((await thrown { _ = try await f.sealer.open(tampered) } as? FormatError)?.kind == .headerMACMismatch)
    }

    @Test("keys add and remove change only the header line; the last slot cannot be removed")
    func addAndRemove() async throws {
        let f = try await Fixture()
        let second = try await f.newKey()
        let sealed = try await f.sealer.seal(try parse(Self.plain), keyID: f.keyARN, context: .empty, selection: .all)
        let added = try await f.sealer.addSlots(to: sealed, for: [.kms(keyID: second, context: .empty)])
        #expect(Self.valueLines(added) == Self.valueLines(sealed))
        #expect(try Self.header(added).kmsSlots.map(\.keyARN) == [f.keyARN, second])
        // The same key and context again is refused.
        let again = await thrown { _ = try await f.sealer.addSlots(to: added, for: [.kms(keyID: second, context: .empty)]) }
        #expect((again as? FormatError)?.kind == .invalidField)

        let removed = try await f.sealer.removeSlots(from: added, matching: .keyARN(f.keyARN))
        #expect(removed.removed == 1)
        #expect(Self.valueLines(removed.file) == Self.valueLines(sealed))
        let left = try Self.header(removed.file)
        #expect(left.slots.count == 1 && left.kmsSlots[0].keyARN == nil)
        // The removed key no longer opens it: disable the remaining one and see no slot for the first.
        try await f.engine.disableKey(.init(keyId: second), by: f.admin)
        #expect((await thrown { _ = try await f.sealer.open(removed.file) } as? KMSError)?.type == .disabled)
        try await f.engine.enableKey(.init(keyId: second), by: f.admin)
        #expect(plaintexts(try await f.sealer.open(removed.file))["API_KEY"] == "sk_live_0123456789")

        let last = await thrown { _ = try await f.sealer.removeSlots(from: removed.file, matching: .keyARN(second)) }
        #expect((last as? SealedFileError)?.kind == .lastSlot)
        let none = await thrown { _ = try await f.sealer.removeSlots(from: removed.file, matching: .keyARN(f.keyARN)) }
        #expect((none as? SealedFileError)?.kind == .noSuchSlot)
    }

    @Test("a version 1 file opens and is written back as version 2 with the same value lines")
    func versionOneStillOpens() async throws {
        let f = try await Fixture()
        let sealed = try await f.sealer.seal(try parse(Self.plain), keyID: f.keyARN, context: .empty, selection: .all)
        let opened = try await f.sealer.open(sealed)
        let v1 = try SealedFileHeader.make(slots: opened.header.slots, variables: opened.variables, keys: opened.keys, version: 1)
        var old = sealed
        try old.set("ENVSEAL", to: v1.text)
        #expect(try Self.header(old).version == 1)
        #expect(plaintexts(try await f.sealer.open(old))["DB_PASSWORD"] == "hunter2")
        let written = try await f.sealer.set("NEW", to: try SecureBytes(utf8: "value"), in: old)
        #expect(try Self.header(written).version == 2)
        #expect(Self.valueLines(written).filter { !$0.hasPrefix("NEW=") } == Self.valueLines(old))
        #expect(plaintexts(try await f.sealer.open(written))["NEW"] == "value")
    }

    @Test("a recipient slot opens with the recovery identity and no key service call; not without it")
    func recipientSlot() async throws {
        let f = try await Fixture()
        let pair = try SealedBox.keyPair()
        let identity = RecoveryIdentity(publicKey: pair.publicKey, secretKey: pair.secretKey)
        let sealed = try await f.sealer.seal(try parse(Self.plain), for: [.kms(keyID: f.keyARN, context: .empty),
                                                                            .recipient(publicKey: pair.publicKey)], selection: .all)
        let calls = f.transport.total()
        let offline = SealedFile(provider: KMSDataKeyProvider(client: KMSClient(transport: UnreachableTransport())),
                                 recoveryIdentities: [identity])
        let opened = try await offline.open(sealed)
        #expect(opened.slotIndex == 1 && opened.keyARN == nil)
        #expect(plaintexts(opened)["DB_PASSWORD"] == "hunter2")
        #expect(f.transport.total() == calls)

        // Recipients only: the data key is made locally, and only the identity opens the file.
        let recipientOnly = try await f.sealer.seal(try parse(Self.plain), keyIDs: [], recipients: [pair.publicKey], context: .empty, selection: .all)
        #expect(f.transport.total() == calls)
        #expect(plaintexts(try await offline.open(recipientOnly))["API_KEY"] == "sk_live_0123456789")
        let noIdentity = await thrown { _ = try await f.sealer.open(recipientOnly) }
        #expect((noIdentity as? SealedFileError)?.kind == .noSlotOpens(failures: []))
        let other = try SealedBox.keyPair()
        let wrongIdentity = SealedFile(provider: f.sealer.provider, recoveryIdentities: [RecoveryIdentity(publicKey: other.publicKey, secretKey: other.secretKey)])
        #expect(await thrown { _ = try await wrongIdentity.open(recipientOnly) } is SealedFileError)
        // A recipient's public key paired with another secret key does not open the slot.
        let mismatched = SealedFile(provider: f.sealer.provider, recoveryIdentities: [RecoveryIdentity(publicKey: pair.publicKey, secretKey: other.secretKey)])
        #expect((await thrown { _ = try await mismatched.open(recipientOnly) } as? FormatError)?.kind == .authenticationFailed)
        // A recipient that is not 32 bytes is refused before anything is written.
        let short = await thrown { _ = try await f.sealer.seal(try parse(Self.plain), keyIDs: [], recipients: [[1, 2, 3]], context: .empty, selection: .all) }
        #expect((short as? FormatError)?.kind == .invalidField)
    }

    @Test("rotate keeps every slot: a new data key for each key and recipient")
    func rotateKeepsSlots() async throws {
        let f = try await Fixture()
        let second = try await f.newKey()
        let pair = try SealedBox.keyPair()
        let context = try EncryptionContext(["app": "billing"])
        let sealed = try await f.sealer.seal(try parse(Self.plain), for: [.kms(keyID: f.keyARN, context: context),
                                                                            .kms(keyID: second, context: context),
                                                                            .recipient(publicKey: pair.publicKey)], selection: .all)
        let rotated = try await f.sealer.rotate(sealed)
        let before = try Self.header(sealed), after = try Self.header(rotated)
        #expect(after.kmsSlots.map(\.keyARN) == before.kmsSlots.map(\.keyARN))
        #expect(after.kmsSlots.map(\.context) == [context, context])
        #expect(after.recipientSlots.map(\.publicKey) == [pair.publicKey])
        #expect(after.kmsSlots[1].wrappedDataKey != before.kmsSlots[1].wrappedDataKey)
        #expect(Self.valueLines(rotated) != Self.valueLines(sealed))
        let offline = SealedFile(provider: KMSDataKeyProvider(client: KMSClient(transport: UnreachableTransport())),
                                 recoveryIdentities: [RecoveryIdentity(publicKey: pair.publicKey, secretKey: pair.secretKey)])
        #expect(plaintexts(try await offline.open(rotated))["DB_PASSWORD"] == "hunter2")
        try await f.engine.disableKey(.init(keyId: f.keyARN), by: f.admin)
        #expect(try await f.sealer.open(rotated).keyARN == second)
        let move = await thrown { _ = try await f.sealer.rotate(rotated, keyID: second) }
        #expect((move as? SealedFileError)?.kind == .severalKeySlots)
    }
}
