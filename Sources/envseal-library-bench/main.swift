// envseal-library-bench: benchmarks of the EnvSeal library, the part a function links.
//
//     envseal-library-bench load [--iterations N] [--repetitions R]
//     envseal-library-bench redact SECRETS.tsv INPUT [--counts 10,100,1000] [--repetitions R] [--min-seconds S]
//     envseal-library-bench memory
//
// `load` measures `SealedEnvironment.load()` of the sealed variables in this process's own
// environment, against the key service the standard AWS variables name, as a function does: the
// first load of the process (a new connection), a cold load (cache cleared: one Decrypt round trip
// on the open connection, every value opened, the MAC checked) and a warm one (the cache hit of a
// warm invocation).
//
// `redact` measures the streaming `Redactor` (64 KiB writes, as from a pipe) against a naive loop
// that replaces each secret in turn with memchr and memcmp, on the same input, with the first N
// secrets of SECRETS.tsv (one `NAME<TAB>value` a line). The two alternate within each repetition.
// The naive loop scrubs the raw values only; the Redactor also their encodings.
//
// `memory` reports this process's resident memory (VmRSS) before anything of the library runs, after
// the first `load()` (a new connection, every value opened) and after the redaction patterns and a
// Redactor are made from it: what using the library adds to a function. bench/run.py compares the
// first figure with a Swift program that does not link the library.
//
// Each prints one JSON object a line on standard output; bench/run.py reads them. Samples are per
// repetition, so the caller can take medians and spreads.
import EnvSeal
import Foundation
import SodiumKit

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("envseal-library-bench: error: \(message)\n".utf8))
    exit(64)
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func emit(_ object: [String: Any]) {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
        fail("cannot encode a result")
    }
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}

/// The value after `flag`, if given.
func option(_ flag: String, in arguments: [String]) -> String? {
    guard let index = arguments.firstIndex(of: flag) else { return nil }
    guard index + 1 < arguments.count else { fail("\(flag) needs a value") }
    return arguments[index + 1]
}

// MARK: - load

func benchmarkLoad(iterations: Int, repetitions: Int) async {
    let clock = ContinuousClock()
    do {
        var count = 0
        let first = try await clock.measure {
            count = try await SealedEnvironment.load().secrets.count
        }
        emit(["bench": "load", "case": "first", "secrets": count, "samples_us": [seconds(first) * 1e6]])

        for _ in 0..<min(iterations, 20) {  // warm-up: connection pool, allocator, page faults
            SealedEnvironment.clearCache()
            _ = try await SealedEnvironment.load()
        }
        var cold: [Double] = []
        var warm: [Double] = []
        let warmIterations = iterations * 20
        for _ in 0..<repetitions {
            let coldTime = try await clock.measure {
                for _ in 0..<iterations {
                    SealedEnvironment.clearCache()
                    _ = try await SealedEnvironment.load()
                }
            }
            cold.append(seconds(coldTime) / Double(iterations) * 1e6)
            _ = try await SealedEnvironment.load()  // fills the cache
            let warmTime = try await clock.measure {
                for _ in 0..<warmIterations { _ = try await SealedEnvironment.load() }
            }
            warm.append(seconds(warmTime) / Double(warmIterations) * 1e6)
        }
        emit(["bench": "load", "case": "cold", "secrets": count, "iterations": iterations, "samples_us": cold])
        emit(["bench": "load", "case": "warm", "secrets": count, "iterations": warmIterations, "samples_us": warm])
    } catch {
        fail("load: \(error)")
    }
}

// MARK: - redact

/// The naive way: one pass over the whole text per secret, each occurrence replaced.
func naiveRedact(_ input: [UInt8], secrets: [[UInt8]], marker: [UInt8]) -> [UInt8] {
    var text = input
    for secret in secrets where !secret.isEmpty {
        var output: [UInt8] = []
        output.reserveCapacity(text.count)
        text.withUnsafeBytes { haystack in
            secret.withUnsafeBytes { needle in
                let base = haystack.baseAddress!
                var copied = 0
                var scan = 0
                while scan + needle.count <= haystack.count,
                      let hit = memchr(base + scan, Int32(needle[0]), haystack.count - scan - needle.count + 1) {
                    let offset = UnsafeRawPointer(hit) - base
                    if memcmp(hit, needle.baseAddress!, needle.count) == 0 {
                        output.append(contentsOf: haystack[copied..<offset])
                        output.append(contentsOf: marker)
                        copied = offset + needle.count
                        scan = copied
                    } else {
                        scan = offset + 1
                    }
                }
                output.append(contentsOf: haystack[copied...])
            }
        }
        text = output
    }
    return text
}

/// One pass of the streaming redactor over the input, written in pieces of `chunk` bytes.
func streamRedact(_ input: [UInt8], patterns: RedactionPatterns, chunk: Int) -> Int {
    var redactor = patterns.makeRedactor()
    var produced = 0
    input.withUnsafeBytes { buffer in
        var start = 0
        while start < buffer.count {
            let end = min(start + chunk, buffer.count)
            produced += redactor.redact(UnsafeRawBufferPointer(rebasing: buffer[start..<end])).count
            start = end
        }
    }
    return produced + redactor.finish().count
}

/// Runs `body` over the input until `minSeconds` have passed (at least once); returns MB/s.
func throughput(bytes: Int, minSeconds: Double, _ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    var passes = 0
    repeat {
        body()
        passes += 1
    } while seconds(clock.now - start) < minSeconds
    return Double(bytes * passes) / seconds(clock.now - start) / 1e6
}

func benchmarkRedaction(secretsPath: String, inputPath: String, counts: [Int], repetitions: Int, minSeconds: Double) {
    guard let table = try? String(contentsOfFile: secretsPath, encoding: .utf8) else { fail("cannot read \(secretsPath)") }
    guard let inputData = FileManager.default.contents(atPath: inputPath) else { fail("cannot read \(inputPath)") }
    let input = Array(inputData)
    let all: [(name: String, value: String)] = table.split(separator: "\n").map { line in
        let parts = line.split(separator: "\t", maxSplits: 1)
        guard parts.count == 2 else { fail("\(secretsPath): a line is not NAME<TAB>value") }
        return (String(parts[0]), String(parts[1]))
    }
    let marker = Array("<redacted>".utf8)  // RedactionMarker.standard
    for count in counts {
        guard count <= all.count else { fail("\(secretsPath) holds \(all.count) secrets, fewer than \(count)") }
        let chosen = all.prefix(count)
        let patterns: RedactionPatterns
        do {
            var secrets: [String: SecureBytes] = [:]
            for secret in chosen { secrets[secret.name] = try SecureBytes(utf8: secret.value) }
            patterns = try RedactionPatterns(secrets: secrets)
        } catch {
            fail("cannot compile the patterns: \(error)")
        }
        let raw = chosen.map { Array($0.value.utf8) }
        // Both must have scrubbed every raw value, or the comparison means nothing.
        let streamed = patterns.redact(input)
        let naive = naiveRedact(input, secrets: raw, marker: marker)
        for value in raw.prefix(20) where containsBytes(streamed, value) || containsBytes(naive, value) {
            fail("a secret survived redaction")
        }
        var redactor: [Double] = []
        var loop: [Double] = []
        for repetition in 0..<repetitions {
            // Alternate which goes first, so neither always runs on a cooler cache.
            let measureRedactor = {
                redactor.append(throughput(bytes: input.count, minSeconds: minSeconds) {
                    _ = streamRedact(input, patterns: patterns, chunk: 64 << 10)
                })
            }
            let measureNaive = {
                loop.append(throughput(bytes: input.count, minSeconds: minSeconds) {
                    _ = naiveRedact(input, secrets: raw, marker: marker)
                })
            }
            if repetition % 2 == 0 { measureRedactor(); measureNaive() } else { measureNaive(); measureRedactor() }
        }
        emit(["bench": "redact", "impl": "redactor", "secrets": count, "patterns": patterns.patternCount,
              "compiled_bytes": patterns.compiledByteCount, "input_bytes": input.count, "samples_mb_s": redactor])
        emit(["bench": "redact", "impl": "naive", "secrets": count, "patterns": raw.count,
              "input_bytes": input.count, "samples_mb_s": loop])
    }
}

func containsBytes(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    haystack.withUnsafeBytes { h in
        needle.withUnsafeBytes { n in
            guard n.count <= h.count else { return false }
            var scan = 0
            while let hit = memchr(h.baseAddress! + scan, Int32(n[0]), h.count - scan - n.count + 1) {
                if memcmp(hit, n.baseAddress!, n.count) == 0 { return true }
                scan = UnsafeRawPointer(hit) - h.baseAddress! + 1
                if scan + n.count > h.count { return false }
            }
            return false
        }
    }
}

// MARK: - memory

/// This process's resident memory in KiB from /proc/self/status: `VmRSS`, and its two parts,
/// `RssAnon` (heap, stacks, written data: memory of this process's own) and `RssFile` (pages of the
/// binary and libraries that were read: shared with every process running them, and reclaimable).
func resident() -> [String: Int] {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
        fail("cannot read /proc/self/status")
    }
    var fields: [String: Int] = [:]
    for line in status.split(separator: "\n") {
        let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count >= 2, ["VmRSS:", "RssAnon:", "RssFile:"].contains(String(parts[0])), let kib = Int(parts[1]) else { continue }
        fields[String(parts[0].dropLast())] = kib
    }
    guard fields.count == 3 else { fail("no VmRSS, RssAnon and RssFile in /proc/self/status") }
    return fields
}

func benchmarkMemory() async {
    let atStart = resident()
    do {
        let environment = try await SealedEnvironment.load()
        let loaded = resident()
        let patterns = try environment.redactionPatterns()
        var redactor = patterns.makeRedactor()
        let sink = redactor.redact(Array("warming the redactor up\n".utf8)) + redactor.finish()
        let redacting = resident()
        emit(["bench": "memory", "secrets": environment.secrets.count, "start": atStart, "loaded": loaded,
              "redacting": redacting, "output_bytes": sink.count])
    } catch {
        fail("memory: \(error)")
    }
}

// MARK: - main

let arguments = Array(CommandLine.arguments.dropFirst())
let repetitions = Int(option("--repetitions", in: arguments) ?? "5") ?? 5
switch arguments.first {
case "load":
    let iterations = Int(option("--iterations", in: arguments) ?? "50") ?? 50
    await benchmarkLoad(iterations: iterations, repetitions: repetitions)
case "redact":
    guard arguments.count >= 3 else { fail("usage: envseal-library-bench redact SECRETS.tsv INPUT [--counts 10,100,1000]") }
    let counts = (option("--counts", in: arguments) ?? "10,100,1000").split(separator: ",").compactMap { Int($0) }
    let minSeconds = Double(option("--min-seconds", in: arguments) ?? "0.3") ?? 0.3
    benchmarkRedaction(secretsPath: arguments[1], inputPath: arguments[2], counts: counts,
                       repetitions: repetitions, minSeconds: minSeconds)
case "memory":
    await benchmarkMemory()
default:
    fail("usage: envseal-library-bench load|redact|memory …")
}
