import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `envseal-store-probe` executable, built beside the test bundle.
func probeExecutable() throws -> URL {
    var directories = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
    // Where a test runner (xctest on macOS) is argument 0, the bundle's own directory.
    directories += Bundle.allBundles.map(\.bundleURL).filter { $0.pathExtension == "xctest" }.map {
        $0.deletingLastPathComponent()
    }
    for directory in directories {
        let candidate = directory.appendingPathComponent("envseal-store-probe")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    throw ProbeError(message: "envseal-store-probe not found beside the tests (\(directories.map(\.path)))")
}

private struct ProbeError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// One run of the probe on a store, with its output read a line at a time.
final class ProbeRun {
    /// Operations asked of the probe: more than it can perform before being killed (it blocks
    /// once the pipe's buffer is full, so it runs at most a pipe's worth of lines, about 1,500
    /// on Linux, ahead of a test that reads at most 600), yet few enough that a probe left
    /// behind by a failing test soon ends.
    static let operations = 20_000

    private let process = Process()
    private let output: FileHandle
    private var buffer = Data()

    /// Starts the probe on `path` for `count` operations; with `umask`, under that umask.
    init(path: String, count: Int, umask: String? = nil) throws {
        let executable = try probeExecutable()
        if let umask {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "umask \(umask) && exec \"$0\" \"$1\" \"$2\"", executable.path, path, "\(count)"]
        } else {
            process.executableURL = executable
            process.arguments = [path, "\(count)"]
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        output = pipe.fileHandleForReading
        try process.run()
    }

    /// Reads until at least `count` complete lines have arrived (or the probe exits).
    func readLines(atLeast count: Int) throws -> [String] {
        var lines: [String] = []
        while lines.count < count {
            let chunk = output.availableData
            if chunk.isEmpty { break }
            lines += take(chunk)
        }
        if lines.count < count {
            throw ProbeError(message: "the probe stopped after \(lines.count) lines")
        }
        return lines
    }

    /// Kills the probe with SIGKILL and returns the complete lines it had printed but that were
    /// not read yet. A partial last line was never acknowledged and is dropped.
    func killAndDrain() -> [String] {
        _ = kill(process.processIdentifier, SIGKILL)
        var lines: [String] = []
        while true {
            let chunk = output.availableData
            if chunk.isEmpty { break }
            lines += take(chunk)
        }
        process.waitUntilExit()
        return lines
    }

    /// Whether the probe died of the signal rather than finishing or failing first.
    var wasKilled: Bool {
        process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
    }

    private func take(_ chunk: Data) -> [String] {
        buffer.append(chunk)
        guard let end = buffer.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let complete = buffer[buffer.startIndex..<end]
        buffer = Data(buffer[buffer.index(after: end)...])
        return String(decoding: complete, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
