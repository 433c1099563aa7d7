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

/// `--only`/`--except` of `encrypt`: which variables it seals.
struct SelectionOptions: ParsableArguments {
    @Option(help: "Seal only variables whose names match this regular expression (replaces the creation rule's only/except).")
    var only: String?

    @Option(help: "Do not seal variables whose names match this regular expression (replaces the creation rule's only/except).")
    var except: String?

    func selection() throws -> VariableSelection {
        try Self.selection(only: only, except: except)
    }

    /// The selection the patterns make; a bad pattern is a usage error (64).
    static func selection(only: String?, except: String?) throws -> VariableSelection {
        do {
            return try VariableSelection(only: only, except: except)
        } catch {
            throw ErrorReport.cliError(error, file: nil)
        }
    }
}

/// `--only`/`--except` of `decrypt`: which variables it writes out in plain text (envelope mode),
/// or which hold ciphertexts to decrypt (lambda mode, where nothing marks them).
struct DecryptSelectionOptions: ParsableArguments {
    @Option(help: "Decrypt and write only the variables whose names match this regular expression (lambda mode: decrypt only these, copy the others as they are).")
    var only: String?

    @Option(help: "Leave out the variables whose names match this regular expression (lambda mode: copy them as they are, not decrypted).")
    var except: String?

    /// Whether `--only` or `--except` was given.
    var isNarrowed: Bool { only != nil || except != nil }

    func selection() throws -> VariableSelection {
        try SelectionOptions.selection(only: only, except: except)
    }
}

/// `-o/--out FILE` for the commands that write a file, and the old `--output FILE` spelling,
/// still taken with a warning. `--output` is a format (text or json) everywhere else, so
/// `--output text` or `--output json` here is refused rather than written to a file so named.
enum OutputFileArgument {
    /// Refuses (64) both spellings at once, and `--output text|json`.
    static func validate(out: String?, legacyOutput: String?) throws {
        guard let legacyOutput else { return }
        if out != nil { throw ValidationError("give -o/--out FILE only (--output FILE is its old spelling), not both") }
        if OutputFormat(rawValue: legacyOutput.lowercased()) != nil {
            throw ValidationError("""
                --output \(legacyOutput): --output names a format (text or json) in envseal's other commands, not a file; \
                write to a file with -o/--out FILE (-o ./\(legacyOutput) for a file so named)
                """)
        }
    }

    /// Warns that `--output FILE` is the old spelling of `-o/--out FILE`.
    static func warnIfLegacy(_ legacyOutput: String?) {
        guard legacyOutput != nil else { return }
        warn("--output FILE is deprecated here, and --output will mean a format as in the other commands; write -o/--out FILE")
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
        defer { SecureMemory.zero(UnsafeMutableRawBufferPointer(start: pointer, count: strlen(pointer))) }
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
