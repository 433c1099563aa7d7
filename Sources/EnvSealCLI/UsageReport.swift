import ArgumentParser
import Foundation

/// ArgumentParser's usage errors in envseal's words: `envseal: error: …` and `envseal: hint: …`
/// like every other error (docs/CLI.md), with "did you mean" for a mistyped command.
enum UsageReport {
    /// Prints `error` (help, version, or a usage error) and exits with ArgumentParser's code;
    /// help or a version that cannot be written to standard output exits 73, as other output does.
    static func exit(for error: any Error, arguments: [String]) -> Never {
        let code = EnvSealCommand.exitCode(for: error)
        guard code != .success else {
            do {
                let text = EnvSealCommand.fullMessage(for: error)
                try FileIO.writeStandardOutput(Array((text.isEmpty ? "" : text + "\n").utf8))
                try FileIO.finishStandardOutput()
            } catch let failure as CLIError {
                FileHandle.standardError.write(Data("envseal: error: \(failure.message)\n".utf8))
                Foundation.exit(failure.exitCode)
            } catch {
                Foundation.exit(EnvSealExit.cannotWrite)
            }
            Foundation.exit(EnvSealExit.success)
        }
        let (message, hint) = lines(for: error, arguments: arguments)
        FileHandle.standardError.write(Data("envseal: error: \(message)\n".utf8))
        if let hint { FileHandle.standardError.write(Data("envseal: hint: \(hint)\n".utf8)) }
        Foundation.exit(code.rawValue)
    }

    /// The error line and the hint for a usage error.
    static func lines(for error: any Error, arguments: [String]) -> (message: String, hint: String?) {
        let (path, unknown) = commandPath(of: arguments)
        let helpCommand = (["envseal"] + path.dropFirst().map { $0.commandName ?? "" }).joined(separator: " ")
        if let unknown, let command = path.last {
            let names = command.subcommands.map(commandName(of:))
            let guess = nearest(to: unknown, in: names).map { "; did you mean '\($0)'?" } ?? ""
            return ("unknown command '\(unknown)'\(guess)", "'\(helpCommand) --help' lists the commands: \(names.joined(separator: ", "))")
        }
        let text = EnvSealCommand.fullMessage(for: error, columns: 1000)
        var message = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = line.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("Error: ") {
                message = lowercasedFirst(String(line.dropFirst("Error: ".count))).replacingOccurrences(of: ". Did you mean", with: "; did you mean")
            } else if message.isEmpty, !line.hasPrefix("Usage:"), !line.hasPrefix("See '") {
                message = lowercasedFirst(line)
            }
        }
        if message.isEmpty { message = "invalid usage" }
        return (message, "'\(helpCommand) --help' shows its options and examples")
    }

    /// The commands the arguments name, root first, and the first argument that should have
    /// named a subcommand but names none (`nil` when every one was found or none was needed).
    static func commandPath(of arguments: [String]) -> (path: [CommandConfiguration], unknown: String?) {
        var path = [EnvSealCommand.configuration]
        for argument in arguments {
            let subcommands = path[path.count - 1].subcommands
            guard !subcommands.isEmpty, !argument.hasPrefix("-") else { break }
            guard let next = subcommands.first(where: { commandName(of: $0) == argument }) else {
                return (path, argument == "help" ? nil : argument)
            }
            path.append(configuration(of: next))
        }
        return (path, nil)
    }

    private static func configuration(of command: any ParsableCommand.Type) -> CommandConfiguration { command.configuration }

    private static func commandName(of command: any ParsableCommand.Type) -> String { configuration(of: command).commandName ?? "" }

    /// The name closest to `word` within two edits (or sharing its first four letters), if any.
    static func nearest(to word: String, in names: [String]) -> String? {
        let scored = names.map { ($0, distance(word, $0)) }.filter { $0.1 <= 2 || ($0.0.hasPrefix(word.prefix(4)) && word.count >= 4) }
        return scored.min { $0.1 < $1.1 }?.0
    }

    /// Damerau–Levenshtein distance (optimal string alignment): a swapped pair of letters is one edit.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }

    private static func lowercasedFirst(_ text: String) -> String {
        guard let first = text.first, first.isUppercase, !(text.dropFirst().first?.isUppercase ?? false) else { return text }
        return first.lowercased() + text.dropFirst()
    }
}
