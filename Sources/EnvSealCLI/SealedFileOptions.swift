import ArgumentParser
import EnvSealFormat
import Foundation
import KMSWire
import SealedDotenv
import SodiumKit

/// How values are sealed: envseal's envelope format, or AWS's Lambda console-helper convention.
enum SealMode: String, ExpressibleByArgument, CaseIterable {
    case envelope, lambda
}

/// `--only`/`--except`: which variables a command seals or opens.
struct SelectionOptions: ParsableArguments {
    @Option(help: "Seal only variables whose names match this regular expression.")
    var only: String?

    @Option(help: "Do not seal variables whose names match this regular expression.")
    var except: String?

    func selection() throws -> VariableSelection {
        do {
            return try VariableSelection(only: only, except: except)
        } catch {
            throw ErrorReport.cliError(error, file: nil)
        }
    }
}

/// `--mode` and `--function`, for commands that read or write either format.
struct ModeOptions: ParsableArguments {
    @Option(help: "envelope (one data key per file, a header with a MAC) or lambda (one KMS ciphertext per value, as AWS's console helper makes).")
    var mode: SealMode = .envelope

    @Option(help: "The function name bound into each value in lambda mode (its LambdaFunctionName encryption context).")
    var function: String?

    func validate() throws {
        if mode == .lambda, function == nil { throw ValidationError("--mode lambda needs --function NAME") }
        if mode == .envelope, function != nil { throw ValidationError("--function only applies to --mode lambda") }
    }
}

/// Reads a secret value: from standard input when it is not a terminal (one trailing newline
/// removed), else from a prompt without echo. Never from the command line, where `ps` and shell
/// history would see it.
enum SecretInput {
    static func read(name: String) throws -> SecureBytes {
        if isatty(STDIN_FILENO) == 0 {
            var data = FileHandle.standardInput.readDataToEndOfFile()
            defer { data.resetBytes(in: 0..<data.count) }
            var count = data.count
            if count > 0, data[count - 1] == 0x0A { count -= 1 }
            if count > 0, data[count - 1] == 0x0D { count -= 1 }
            return try data.withUnsafeBytes { try SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        guard let pointer = getpass("envseal: value of \(name): ") else {
            throw CLIError("cannot read the value of \(name) from the terminal")
        }
        defer { memset(pointer, 0, strlen(pointer)) }
        return try SecureBytes(copying: UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
    }
}

/// Parses `--context key=value` pairs (or another option's, named in errors).
enum ContextArgument {
    static func parse(_ pairs: [String], option: String = "--context") throws -> EncryptionContext {
        var dictionary: [String: String] = [:]
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw CLIError("\(option) \(pair): expected key=value", exitCode: EnvSealExit.usage)
            }
            let key = String(pair[..<equals])
            guard dictionary[key] == nil else {
                throw CLIError("\(option): key \(key) is given twice", exitCode: EnvSealExit.usage)
            }
            dictionary[key] = String(pair[pair.index(after: equals)...])
        }
        do {
            return try EncryptionContext(dictionary)
        } catch {
            throw CLIError("\(option): \(error)", exitCode: EnvSealExit.usage)
        }
    }
}

/// Encodes a report for `--output json`.
enum JSONOutput {
    /// Prints a KMS response as KMS encodes it (blobs in base64, dates in epoch seconds), indented.
    static func printKMS(_ value: some Encodable) throws {
        let encoder = KMSJSON.encoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        EnvSealCLI.print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func print(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        EnvSealCLI.print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
