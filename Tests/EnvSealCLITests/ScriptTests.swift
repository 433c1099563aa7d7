import Foundation
import Testing

/// Black-box tests of the `envseal` binary, driven by script files in `Scripts/`.
///
/// A script is a list of commands, then the files it uses, each after a `-- name --` line:
///
/// ```
/// exec envseal inspect app.env      # run; fails the test unless the exit code is 0
/// ! exec envseal inspect bad.env    # run; fails the test if the exit code is 0
/// exit 65                           # the last command's exit code
/// stdout 'sealed: no'               # a regular expression the last stdout must match
/// ! stderr 'hunter2'                # one it must not match
/// stdin value.txt                   # the next exec reads this file on standard input
/// env EDITOR=./editor.sh            # set for every later exec (AWS_* are never inherited)
/// -- app.env --
/// A=1
/// ```
@Suite("envseal CLI scripts")
struct ScriptTests {
    static let scriptsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts")

    static var scripts: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: scriptsDirectory.path)) ?? [])
            .filter { $0.hasSuffix(".txt") }.sorted()
    }

    @Test("script", arguments: scripts)
    func run(script: String) throws {
        let text = try String(contentsOf: Self.scriptsDirectory.appendingPathComponent(script), encoding: .utf8)
        let (commands, files) = Self.split(text)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-script-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        for (name, content) in files {
            try Data(content.utf8).write(to: work.appendingPathComponent(name))
        }
        var last: (stdout: String, stderr: String, status: Int32)?
        var input: URL?
        // The embedded key store, whatever the machine's AWS settings say.
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
        for (number, line) in commands {
            let negated = line.hasPrefix("! ")
            let words = Self.words(negated ? String(line.dropFirst(2)) : line)
            guard let verb = words.first else { continue }
            let place = "\(script):\(number)"
            switch verb {
            case "exec":
                last = try Self.execute(Array(words.dropFirst()), in: work, stdin: input, environment: environment)
                input = nil
                if negated {
                    #expect(last!.status != 0, "\(place): expected failure, got success")
                } else {
                    #expect(last!.status == 0, "\(place): exit \(last!.status), stderr: \(last!.stderr)")
                }
            case "stdin":
                input = work.appendingPathComponent(words[1])
            case "env":
                let pair = words[1].split(separator: "=", maxSplits: 1).map(String.init)
                environment[pair[0]] = pair.count > 1 ? pair[1] : ""
            case "exit":
                #expect(last?.status == Int32(words[1]), "\(place): expected exit \(words[1]), got \(String(describing: last?.status))")
            case "stdout", "stderr":
                let output = verb == "stdout" ? last?.stdout ?? "" : last?.stderr ?? ""
                let matches = output.range(of: words[1], options: .regularExpression) != nil
                #expect(matches != negated, "\(place): \(verb) \(negated ? "matches" : "does not match") \(words[1]):\n\(output)")
            default:
                Issue.record("\(place): unknown command \(verb)")
            }
        }
    }

    /// The commands (with line numbers) and the files of a script.
    static func split(_ text: String) -> ([(Int, String)], [(String, String)]) {
        var commands: [(Int, String)] = []
        var files: [(String, String)] = []
        var current: (name: String, lines: [String])?
        for (index, line) in text.components(separatedBy: "\n").enumerated() {
            if line.hasPrefix("-- "), line.hasSuffix(" --"), line.count > 6 {
                if let current { files.append((current.name, current.lines.joined(separator: "\n"))) }
                current = (String(line.dropFirst(3).dropLast(3)), [])
            } else if current != nil {
                current!.lines.append(line)
            } else if !line.trimmingCharacters(in: .whitespaces).isEmpty, !line.hasPrefix("#") {
                commands.append((index + 1, line))
            }
        }
        if let current { files.append((current.name, current.lines.joined(separator: "\n"))) }
        return (commands, files)
    }

    /// Splits on spaces, keeping single-quoted words whole.
    static func words(_ line: String) -> [String] {
        var words: [String] = [], word = "", quoted = false, started = false
        for c in line {
            if c == "'" { quoted.toggle(); started = true } else if c == " " && !quoted {
                if started { words.append(word) }
                word = ""; started = false
            } else { word.append(c); started = true }
        }
        if started { words.append(word) }
        return words
    }

    /// The directory holding the built products (next to this test bundle).
    static var productsDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    static func execute(
        _ arguments: [String], in directory: URL, stdin: URL?, environment: [String: String]
    ) throws -> (stdout: String, stderr: String, status: Int32) {
        let process = Process()
        let tool = arguments[0] == "envseal" ? productsDirectory.appendingPathComponent("envseal") : URL(fileURLWithPath: "/usr/bin/env")
        process.executableURL = tool
        process.arguments = arguments[0] == "envseal" ? Array(arguments.dropFirst()) : arguments
        process.currentDirectoryURL = directory
        process.environment = environment
        process.standardInput = try FileHandle(forReadingFrom: stdin ?? URL(fileURLWithPath: "/dev/null"))
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self), process.terminationStatus)
    }
}
