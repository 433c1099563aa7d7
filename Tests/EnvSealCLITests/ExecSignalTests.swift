import Foundation
import Testing

/// `envseal exec --redact` forwards signals to its command and exits as the command did.
@Suite("envseal exec signals", .serialized)
struct ExecSignalTests {
    /// A key store with a sealed file holding TOKEN.
    static func prepare() throws -> URL {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-exec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try Data("TOKEN=tok_live_signal_0123456789\n".utf8).write(to: work.appendingPathComponent("app.env"))
        for arguments in [["keys", "create", "--alias", "alias/s"], ["encrypt", "app.env", "--key", "alias/s", "-o", "sealed.env"]] {
            let result = try ScriptTests.execute(["envseal"] + arguments + ["--keystore", "ks"], in: work, stdin: nil,
                                                 environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") })
            try #require(result.status == 0, "\(arguments[0]): \(result.stderr)")
        }
        return work
    }

    /// Starts `envseal exec --redact` on `script`, waits for it to print "ready", sends `signal`,
    /// and returns everything it printed and its exit status.
    static func run(_ script: String, sending signal: Int32, in work: URL) throws -> (stdout: String, status: Int32) {
        let process = Process()
        process.executableURL = ScriptTests.productsDirectory.appendingPathComponent("envseal")
        process.arguments = ["exec", "--file", "sealed.env", "--redact", "--keystore", "ks", "--", "sh", "-c", script]
        process.currentDirectoryURL = work
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var printed = Data()
        let deadline = Date().addingTimeInterval(30)
        while !String(decoding: printed, as: UTF8.self).contains("ready"), Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            printed.append(chunk)
        }
        #expect(String(decoding: printed, as: UTF8.self).contains("ready"), "the command never started")
        kill(process.processIdentifier, signal)
        printed.append(out.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return (String(decoding: printed, as: UTF8.self), status)
    }

    @Test("a TERM reaches the command, which cleans up; its output is still redacted; exit 0")
    func termReachesTheCommand() throws {
        let work = try Self.prepare()
        defer { try? FileManager.default.removeItem(at: work) }
        let (stdout, status) = try Self.run(
            #"trap 'echo "cleaned up $TOKEN"; exit 0' TERM; echo ready; while :; do sleep 0.05; done"#,
            sending: SIGTERM, in: work)
        #expect(stdout.contains("cleaned up <redacted>"))
        #expect(!stdout.contains("tok_live_signal"))
        #expect(status == 0)
    }

    @Test("HUP and USR1 reach the command too", arguments: [SIGHUP, SIGUSR1])
    func otherSignals(signal: Int32) throws {
        let work = try Self.prepare()
        defer { try? FileManager.default.removeItem(at: work) }
        let (stdout, status) = try Self.run(
            #"trap 'echo got-it; exit 7' HUP USR1; echo ready; while :; do sleep 0.05; done"#, sending: signal, in: work)
        #expect(stdout.contains("got-it"))
        #expect(status == 7)
    }

    @Test("a command that dies of the forwarded signal gives 128+N")
    func deathBySignal() throws {
        let work = try Self.prepare()
        defer { try? FileManager.default.removeItem(at: work) }
        let (_, status) = try Self.run("echo ready; exec sleep 30", sending: SIGTERM, in: work)
        #expect(status == 128 + SIGTERM)
    }
}
