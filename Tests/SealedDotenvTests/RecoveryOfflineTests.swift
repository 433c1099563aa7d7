import EnvSealFormat
import Foundation
import KMSClient
import KMSWire
@testable import SealedDotenv
import SodiumKit
import Testing

/// `SealedFile.offline`: recovery identities and no key service at all.
@Suite("recovery keys, offline")
struct RecoveryOfflineTests {
    static let plain = "API_KEY=sk_live_0123456789\nDB_PASSWORD=hunter2\n"

    @Test("a file sealed for a key and a recipient opens offline; a key-only file does not, without connecting")
    func offlineOpen() async throws {
        let f = try await Fixture()
        let pair = try BoxKeyPair.generate()
        let identity = RecoveryIdentity(pair)
        let both = try await f.sealer.seal(try parse(Self.plain), for: [.kms(keyID: f.keyARN, context: .empty),
                                                                         .recipient(publicKey: pair.publicKey)], selection: .all)
        let calls = f.transport.total()
        let offline = SealedFile.offline([identity])
        try SealedFile.requireRecipientSlot(in: both.value(of: SealedFileHeader.variableName), for: [identity])
        #expect(plaintexts(try await offline.open(both))["DB_PASSWORD"] == "hunter2")
        #expect(f.transport.total() == calls)

        // A file without a slot for the key: refused before opening, naming the recipient.
        let keyOnly = try await f.sealer.seal(try parse(Self.plain), keyID: f.keyARN, context: .empty, selection: .all)
        let callsAfterSealing = f.transport.total()
        let error = try #require(throws: RecoveryKeyError.self) {
            try SealedFile.requireRecipientSlot(in: keyOnly.value(of: SealedFileHeader.variableName), for: [identity])
        }
        #expect(error == RecoveryKeyError(.noSlotForRecipient(try RecoveryRecipient(publicKey: pair.publicKey).text)))
        #expect(ErrorClassification(error).kind == .wrongRecoveryKey)
        // Opened anyway, its key slot needs a key service: refused without one being reached.
        let refused = await thrown { _ = try await offline.open(keyOnly) }
        #expect(refused != nil)
        #expect(f.transport.total() == callsAfterSealing)
        // No identity, or no header: nothing to check here.
        try SealedFile.requireRecipientSlot(in: keyOnly.value(of: SealedFileHeader.variableName), for: [])
        try SealedFile.requireRecipientSlot(in: nil, for: [identity])
    }

    @Test("the no-key-service transport refuses every operation as not configured")
    func transportRefuses() async throws {
        let error = try await #require(throws: KMSTransportError.self) {
            _ = try await NoKeyServiceTransport().send(.decrypt, body: Data("{}".utf8))
        }
        #expect(error.kind == .configuration)
        #expect(error.description.contains("Decrypt"))
    }
}
