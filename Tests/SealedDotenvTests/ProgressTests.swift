import EnvSealFormat
import KMSClient
import SealedDotenv
import Synchronization
import Testing

/// Long operations report how far they have come, and always end with `.finished`.
@Suite struct ProgressTests {
    final class Recorder: Sendable {
        private let reports = Mutex<[SealingProgress]>([])
        var handler: SealingProgress.Handler { { [self] report in reports.withLock { $0.append(report) } } }
        var all: [SealingProgress] { reports.withLock { $0 } }
    }

    static func file(_ count: Int) throws -> DotenvFile {
        try parse((0..<count).map { "VAR_\($0)=value\($0)\n" }.joined())
    }

    @Test("sealing and opening report counts of values, then finished")
    func sealAndOpen() async throws {
        let f = try await Fixture()
        let recorder = Recorder()
        let sealer = SealedFile(provider: f.sealer.provider, progress: recorder.handler)
        let sealed = try await sealer.seal(try Self.file(1_200), keyID: f.keyARN, context: .empty, selection: .all)
        #expect(recorder.all.first == .working(.sealing, done: 0, total: 1_200))
        #expect(recorder.all.contains(.working(.sealing, done: 1_024, total: 1_200)))
        #expect(recorder.all.last == .finished)

        let opening = Recorder()
        _ = try await SealedFile(provider: f.sealer.provider, progress: opening.handler).decrypt(sealed)
        #expect(opening.all.contains(.working(.opening, done: 0, total: 1_200)))
        #expect(opening.all.last == .finished)
    }

    @Test("a failed operation reports finished too, so a display is erased before the error")
    func finishedOnError() async throws {
        let f = try await Fixture()
        let recorder = Recorder()
        let sealer = SealedFile(provider: f.sealer.provider, progress: recorder.handler)
        let error = await thrown { _ = try await sealer.seal(try Self.file(3), keyID: "alias/none", context: .empty, selection: .all) }
        #expect(error != nil)
        #expect(recorder.all.last == .finished)
    }

    @Test("lambda mode reports the KMS calls as they complete")
    func lambda() async throws {
        let f = try await Fixture()
        let recorder = Recorder()
        let sealer = SealedFile(provider: f.sealer.provider, progress: recorder.handler)
        let sealed = try await sealer.sealForLambda(try Self.file(600), keyID: f.keyARN, functionName: "fn", selection: .all)
        #expect(recorder.all.contains(.working(.encrypting, done: 512, total: 600)))
        #expect(recorder.all.last == .finished)
        let plain = try await sealer.decryptLambda(sealed, functionName: "fn", selection: .all)
        #expect(plain.render() == (try Self.file(600)).render())
    }
}
