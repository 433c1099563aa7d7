import ArgumentParser
import EnvSealFormat
import Foundation

/// `envseal inspect`: what a dotenv file holds and whether it is well formed, without any key.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a dotenv or sealed file holds, and check its structure without any key.",
        discussion: """
        Parses FILE as dotenv (docs/DOTENV.md). For a sealed file it reads the ENVSEAL header \
        (docs/FORMAT.md) and checks, without contacting the key service, that every variable the \
        header lists is present, that every variable of the file is listed, and that every \
        sealed value is well formed. Values are never printed. Authenticity (the MAC and each \
        value's seal) needs the data key: `envseal verify` checks it.

        Examples:
          envseal inspect .env.sealed
          envseal inspect --output json .env.sealed | jq .sealed
        """
    )

    

    @Argument(help: "The dotenv file to inspect (- for standard input).")
    var file: String

    @Option(help: "Output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var messages: MessageOptions

    func run() throws {
        let report = try FileInspection(path: file)
        switch output {
        case .text: print(report.text, terminator: "")
        case .json: print(report.json)
        }
        if let problem = report.problems.first {
            throw CLIError("\(file): \(problem)", hint: report.problems.count > 1 ? "\(report.problems.count) problems in all" : nil,
                           exitCode: EnvSealExit.tampered)
        }
    }
}

/// The facts `inspect` reports about one file. Never holds a value.
struct FileInspection: Encodable {
    /// One slot of the header: a key service's wrapped data key, or a recovery recipient's.
    struct Slot: Encodable {
        let kind: String
        let keyARN: String?
        let context: [String: String]?
        let wrappedDataKeyBytes: Int?
        let wrappedDataKey: String?
        let recipient: String?

        init(_ slot: SealedFileHeader.Slot) {
            switch slot {
            case .kms(let kms):
                (kind, keyARN, context, recipient) = ("kms", kms.keyARN, kms.context.dictionary, nil)
                (wrappedDataKeyBytes, wrappedDataKey) = (kms.wrappedDataKey.count, FileInspection.describeWrappedKey(kms.wrappedDataKey))
            case .recipient(let recipient):
                (kind, keyARN, context, wrappedDataKeyBytes, wrappedDataKey) = ("recipient", nil, nil, nil, nil)
                // The recipient as `envseal recovery keygen` printed it (esr1:…, with its checksum).
                self.recipient = (try? RecoveryRecipient(publicKey: recipient.publicKey).text) ?? Base64URL.encode(recipient.publicKey)
            }
        }

        /// The slot on one line, as `keys list FILE` and `inspect` print it.
        var text: String {
            guard kind == "kms" else { return "recipient \(recipient ?? "")" }
            let context = context.map { $0.isEmpty ? "{}" : $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") } ?? "{}"
            return "key \(keyARN ?? "not recorded (the wrapped data key names it)"); context: \(context); wrapped data key: \(wrappedDataKeyBytes ?? 0) bytes, \(wrappedDataKey ?? "")"
        }
    }

    struct Header: Encodable {
        let line: Int
        let version: Int
        /// The first key slot's fields, as version 1 had them.
        let keyARN: String?
        let context: [String: String]
        let wrappedDataKeyBytes: Int
        let wrappedDataKey: String
        /// Every slot, in header order.
        let slots: [Slot]
        let sealed: [String]
        let covered: [String]
        let characters: Int
    }

    let file: String
    let bytes: Int
    let variables: Int
    let lineEnding: String
    let duplicates: [String]
    let header: Header?
    let plain: [String]
    let problems: [String]

    init(path: String) throws {
        let data: [UInt8]
        do {
            data = try FileIO.readBytes(path)
        } catch let error as CLIError {
            throw CLIError(error.message, hint: "check the path and its permissions", exitCode: error.exitCode)
        }
        let dotenv = try FileIO.parseDotenv(data, from: path)
        file = path
        bytes = data.count
        variables = dotenv.assignments.count
        lineEnding = dotenv.lineEnding == "\r\n" ? "CRLF" : "LF"
        duplicates = dotenv.duplicateNames()

        var problems: [String] = []
        let headerAssignment = dotenv.assignments.last { $0.name == SealedFileHeader.variableName }
        let others = dotenv.assignments.filter { $0.name != SealedFileHeader.variableName }
        var lastValue: [String: DotenvFile.Assignment] = [:]
        for assignment in others { lastValue[assignment.name] = assignment }

        if let headerAssignment {
            let parsed: SealedFileHeader
            do {
                parsed = try SealedFileHeader(parsing: headerAssignment.value)
            } catch {
                throw CLIError("\(path):\(headerAssignment.line): header \(SealedFileHeader.variableName): \(error)",
                               exitCode: EnvSealExit.malformedInput)
            }
            let listed = Set(parsed.entries.map(\.name))
            for entry in parsed.entries {
                guard let assignment = lastValue[entry.name] else {
                    problems.append(FormatError(.missingVariable(name: entry.name)).description)
                    continue
                }
                if entry.kind == .sealed {
                    do {
                        _ = try SealedValue.decode(assignment.value, name: entry.name)
                    } catch {
                        problems.append("line \(assignment.line): \(error)")
                    }
                }
            }
            // A sealed file's header must cover every variable, plain ones included.
            for assignment in others where !listed.contains(assignment.name) {
                problems.append("line \(assignment.line): \(FormatError(.unlistedVariable(name: assignment.name)))")
            }
            let first = parsed.kmsSlots.first
            header = Header(
                line: headerAssignment.line, version: Int(parsed.version), keyARN: first?.keyARN,
                context: first?.context.dictionary ?? [:], wrappedDataKeyBytes: first?.wrappedDataKey.count ?? 0,
                wrappedDataKey: first.map { Self.describeWrappedKey($0.wrappedDataKey) } ?? "none (recipient slots only)",
                slots: parsed.slots.map(Slot.init),
                sealed: parsed.sealedNames, covered: parsed.coveredNames, characters: headerAssignment.value.count)
            plain = lastValue.keys.filter { !listed.contains($0) }.sorted()
        } else {
            header = nil
            plain = lastValue.keys.sorted()
            for assignment in others where SealedValue.isSealed(assignment.value) {
                problems.append("line \(assignment.line): \(assignment.name) holds a sealed value but the file has no \(SealedFileHeader.variableName) header")
            }
        }
        if !duplicates.isEmpty {
            warn("\(path): variables assigned more than once (the last one counts): \(duplicates.joined(separator: ", "))")
        }
        self.problems = problems
    }

    static func describeWrappedKey(_ bytes: [UInt8]) -> String {
        if let blob = try? CiphertextBlob(parsing: bytes) {
            return "envseal blob, key \(blob.keyID.uuidString.lowercased()) version \(blob.keyVersion)"
        }
        return "opaque (not an envseal blob: an AWS KMS ciphertext, or another key service's)"
    }

    var text: String {
        var out = "file: \(file) (\(bytes) bytes, \(variables) variables, \(lineEnding))\n"
        if let header {
            out += "sealed: yes (header \(SealedFileHeader.variableName) on line \(header.line), format v\(header.version), \(header.characters) characters)\n"
            if header.slots.count == 1, header.slots[0].kind == "kms" {
                out += "key: \(header.keyARN ?? "not recorded (the wrapped data key names it)")\n"
                out += "context: \(header.context.isEmpty ? "{}" : header.context.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))\n"
                out += "wrapped data key: \(header.wrappedDataKeyBytes) bytes, \(header.wrappedDataKey)\n"
            } else {
                out += "slots (\(header.slots.count), any one opens the file):\n"
                for (index, slot) in header.slots.enumerated() { out += "  \(index + 1): \(slot.text)\n" }
            }
            out += "sealed variables (\(header.sealed.count)): \(header.sealed.joined(separator: " "))\n"
            out += "covered plain variables (\(header.covered.count)): \(header.covered.joined(separator: " "))\n"
        } else {
            out += "sealed: no\n"
        }
        out += "plain variables (\(plain.count)): \(plain.joined(separator: " "))\n"
        out += problems.isEmpty ? "structure: ok\n" : problems.map { "problem: \($0)\n" }.joined()
        return out
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
