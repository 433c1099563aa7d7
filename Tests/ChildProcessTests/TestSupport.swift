import Foundation
import Testing

@testable import ChildProcess

/// A filter that records what it is given and how it is called, and transforms the bytes
/// (ASCII letters to upper case, a trailer at the end) so that a test can tell filtered output
/// from raw output.
struct RecordingFilter: OutputFilter {
    /// Keep the bytes themselves; off for the large-output test, which only counts.
    var keepsBytes = true
    /// Returned by `finish()`.
    var trailer: [UInt8] = []
    /// How long each `filter(_:)` call takes, to stand for a slow reader of our output.
    var delay: Duration = .zero
    private(set) var received: [UInt8] = []
    private(set) var byteCount = 0
    private(set) var chunkCount = 0
    private(set) var finishCount = 0

    var text: String { String(decoding: received, as: UTF8.self) }

    mutating func filter(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        #expect(finishCount == 0, "filter(_:) called after finish()")
        chunkCount += 1
        byteCount += bytes.count
        if delay > .zero {
            let (seconds, attoseconds) = delay.components
            Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
        }
        guard keepsBytes else { return [] }
        received += bytes
        return bytes.map { (0x61...0x7a).contains($0) ? $0 - 0x20 : $0 }
    }

    mutating func finish() -> [UInt8] {
        finishCount += 1
        return trailer
    }
}

/// What a supervised run produced: how it ended, the filters afterwards, and what reached our
/// two output descriptors.
struct Capture {
    var termination: Termination
    var stdout: RecordingFilter
    var stderr: RecordingFilter
    var writtenToStdout: String
    var writtenToStderr: String
}

/// The environment most tests give their child: just enough to find `sh`.
let minimalEnvironment = ["PATH": "/usr/bin:/bin"]

/// Supervises `command`, with files standing in for our fd 1 and 2.
func capture(
    _ command: [String], environment: [String: String] = minimalEnvironment,
    stdout: RecordingFilter = RecordingFilter(), stderr: RecordingFilter = RecordingFilter()
) throws -> Capture {
    let out = try ScratchFile()
    let err = try ScratchFile()
    var stdout = stdout
    var stderr = stderr
    let termination = try ChildProcess.supervise(
        command: command, environment: environment, stdout: &stdout, stderr: &stderr,
        outputDescriptors: (out.descriptor, err.descriptor))
    return Capture(
        termination: termination, stdout: stdout, stderr: stderr,
        writtenToStdout: try out.contents(), writtenToStderr: try err.contents())
}

/// An empty file in the temporary directory, open for writing, removed when released.
final class ScratchFile {
    let url: URL
    let descriptor: Int32

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("childprocess-\(UUID().uuidString)")
        descriptor = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw TestFailure("cannot create \(url.path)") }
    }

    func contents() throws -> String {
        String(decoding: try Data(contentsOf: url), as: UTF8.self)
    }

    deinit {
        close(descriptor)
        try? FileManager.default.removeItem(at: url)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The calling thread's signal mask and the process's handlers for the forwarded signals, to
/// check that supervision puts them back. (Not SIGPIPE's handler, which supervision leaves
/// alone and which SwiftNIO, in the same test process, sets to SIG_IGN when it first opens a
/// socket.)
struct SignalState: Equatable {
    var mask: [UInt8]
    var handlers: [UInt]
    var flags: [Int32]

    static func current() -> SignalState {
        var mask = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &mask)
        var handlers: [UInt] = []
        var flags: [Int32] = []
        for signal in forwardedSignals {
            var action = sigaction()
            sigaction(signal, nil, &action)
            handlers.append(unsafeBitCast(action.__sigaction_handler, to: UInt.self))
            flags.append(action.sa_flags)
        }
        return SignalState(mask: withUnsafeBytes(of: &mask) { Array($0) }, handlers: handlers, flags: flags)
    }
}
