import Foundation
import KMSWire
import SodiumKit

/// The profile's sections of the shared `config` and `credentials` files, read on first need.
final class ProfileFiles {
    let profile: String
    let mustExist: Bool
    let configPath: String?
    let credentialsPath: String?
    private var cached: [SharedConfigFile.Section]?

    init(environment: [String: String], profile: String, mustExist: Bool) {
        let home = environment["HOME"]
        func path(_ variable: String, default name: String) -> String? {
            if let path = environment[variable] {
                if path == "~" || path.hasPrefix("~/"), let home { return home + path.dropFirst() }
                return path
            }
            return home.map { $0 + "/.aws/" + name }
        }
        self.profile = profile
        self.mustExist = mustExist
        configPath = path("AWS_CONFIG_FILE", default: "config")
        credentialsPath = path("AWS_SHARED_CREDENTIALS_FILE", default: "credentials")
    }

    /// The profile's section of both files, in the order they are consulted for credentials.
    private func sections() throws(KMSTransportError) -> [SharedConfigFile.Section] {
        if let cached { return cached }
        var found: [SharedConfigFile.Section] = []
        if let credentialsPath, let section = try SharedConfigFile.section(profile, in: credentialsPath, isConfigFile: false) {
            found.append(section)
        }
        if let configPath, let section = try SharedConfigFile.section(profile, in: configPath, isConfigFile: true) {
            found.append(section)
        }
        if found.isEmpty, mustExist {
            let places = [credentialsPath, configPath].compactMap { $0 }.joined(separator: " or ")
            throw KMSTransportError(.configuration, "profile \(profile) not found" + (places.isEmpty ? "" : " (\(places))"))
        }
        cached = found
        return found
    }

    func credentials() throws(KMSTransportError) -> SigV4Credentials? {
        for section in try sections() {
            let id = section.values["aws_access_key_id"]
            switch (id, section.secretAccessKey) {
            case (nil, nil):
                continue
            case (let id?, let secret?):
                return SigV4Credentials(
                    accessKeyID: id.value, secretAccessKey: secret.value,
                    sessionToken: section.values["aws_session_token"]?.value)
            case (let id?, nil):
                throw KMSTransportError(.configuration, "profile \(profile) has aws_access_key_id but no "
                    + "aws_secret_access_key (\(section.path):\(id.line))")
            case (nil, let secret?):
                throw KMSTransportError(.configuration, "profile \(profile) has aws_secret_access_key but no "
                    + "aws_access_key_id (\(section.path):\(secret.line))")
            }
        }
        return nil
    }

    func region() throws(KMSTransportError) -> (value: String, source: String)? {
        // The config file is where the AWS CLI keeps regions; a credentials file (like the one
        // envseal writes for its first admin) may carry one too.
        let ordered = try sections().sorted { $0.isConfigFile && !$1.isConfigFile }
        for section in ordered {
            if let region = section.values["region"] {
                return (region.value, "\(section.path):\(region.line)")
            }
        }
        return nil
    }
}

/// Reads one profile out of an AWS shared `config` or `credentials` file (INI).
///
/// The syntax is Python's `configparser` as botocore uses it: `[section]` lines, `name = value` or
/// `name: value` lines (names case-insensitive), whole-line `#` and `;` comments, and indented
/// lines after a setting that continue it (nested settings such as `s3 =`), which are skipped.
/// Every line of the file is checked, so a malformed line anywhere is reported with its line
/// number, never with its text: it may hold a secret.
enum SharedConfigFile {
    /// A profile's settings, each with the line it came from.
    struct Section {
        let path: String
        let isConfigFile: Bool
        var values: [String: (value: String, line: Int)] = [:]
        var secretAccessKey: (value: SecureBytes, line: Int)?
    }

    /// Files larger than this are not AWS configuration.
    static let maxFileSize = 1 << 20

    /// The profile's section, `nil` when the file does not exist or has no such section.
    /// - Parameters:
    ///   - profile: The profile name.
    ///   - path: The file.
    ///   - isConfigFile: `config` (sections `[default]`, `[profile NAME]`) or `credentials` (`[NAME]`).
    static func section(_ profile: String, in path: String, isConfigFile: Bool) throws(KMSTransportError) -> Section? {
        let kind = isConfigFile ? "AWS config file" : "AWS credentials file"
        guard var bytes = try readFile(path, kind: kind) else { return nil }
        defer { SecureMemory.zero(&bytes) }
        return try parse(bytes, profile: profile, path: path, kind: kind, isConfigFile: isConfigFile)
    }

    static func parse(
        _ bytes: [UInt8], profile: String, path: String, kind: String, isConfigFile: Bool
    ) throws(KMSTransportError) -> Section? {
        var result = Section(path: path, isConfigFile: isConfigFile)
        var found = false
        var inSection = false
        var inWanted = false
        var afterSetting = false
        var lineNumber = 0
        var start = 0
        func malformed(_ problem: String) -> KMSTransportError {
            KMSTransportError(.configuration, "malformed \(kind): line \(lineNumber) \(problem) (\(path):\(lineNumber))")
        }
        while start <= bytes.count {
            lineNumber += 1
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            defer { start = end + 1 }
            let line = trimmed(bytes, start..<end)
            if line.isEmpty { continue }
            let first = bytes[line.lowerBound]
            if first == UInt8(ascii: "#") || first == UInt8(ascii: ";") { continue }
            if line.lowerBound > start, afterSetting { continue }  // a nested or continued value

            if first == UInt8(ascii: "[") {
                guard let close = bytes[line].lastIndex(of: UInt8(ascii: "]")) else {
                    throw malformed("opens a section without closing it with ']'")
                }
                let name = String(decoding: bytes[trimmed(bytes, (line.lowerBound + 1)..<close)], as: UTF8.self)
                guard !name.isEmpty else { throw malformed("has an empty section name") }
                inSection = true
                inWanted = matches(section: name, profile: profile, isConfigFile: isConfigFile)
                found = found || inWanted
                afterSetting = false
                continue
            }
            guard let delimiter = bytes[line].firstIndex(where: { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: ":") }) else {
                throw malformed("is not '[section]', 'name = value' or a comment")
            }
            let name = String(decoding: bytes[trimmed(bytes, line.lowerBound..<delimiter)], as: UTF8.self).lowercased()
            guard !name.isEmpty else { throw malformed("has a value without a name") }
            guard inSection else { throw malformed("is a setting before any [section]") }
            afterSetting = true
            guard inWanted else { continue }
            let value = trimmed(bytes, (delimiter + 1)..<line.upperBound)
            if name == "aws_secret_access_key" {
                guard !value.isEmpty else { throw malformed("has an empty aws_secret_access_key") }
                do {
                    result.secretAccessKey = (try SecureBytes(copying: bytes[value]), lineNumber)
                } catch {
                    throw KMSTransportError(.configuration, "cannot keep the secret access key in guarded memory: \(error)")
                }
            } else {
                result.values[name] = (String(decoding: bytes[value], as: UTF8.self), lineNumber)
            }
        }
        return found ? result : nil
    }

    /// `[default]` and `[profile NAME]` in a config file (botocore ignores `[NAME]` there, but
    /// for `default`); `[NAME]` in a credentials file.
    static func matches(section: String, profile: String, isConfigFile: Bool) -> Bool {
        guard isConfigFile else { return section == profile }
        if section == "default" { return profile == "default" }
        let words = section.split(whereSeparator: { $0 == " " || $0 == "\t" })
        return words.count == 2 && words[0] == "profile" && words[1] == profile
    }

    /// The range without leading and trailing spaces, tabs and carriage returns.
    static func trimmed(_ bytes: [UInt8], _ range: Range<Int>) -> Range<Int> {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D }
        var lower = range.lowerBound, upper = range.upperBound
        while lower < upper, isSpace(bytes[lower]) { lower += 1 }
        while upper > lower, isSpace(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    /// The file's bytes, `nil` when it does not exist. Read with `read(2)` into one buffer, so
    /// that the only copy of a secret outside guarded memory is the one `SecureMemory.zero` clears.
    static func readFile(_ path: String, kind: String) throws(KMSTransportError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw KMSTransportError(.configuration, "cannot read the \(kind) \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw KMSTransportError(.configuration, "cannot read the \(kind) \(path): \(String(cString: strerror(errno)))")
        }
        let type = status.st_mode & S_IFMT
        // A character device or a pipe (`AWS_CONFIG_FILE=/dev/null`, a process substitution) is read
        // to its end, as botocore and the aws CLI read it, up to the size limit.
        guard type == S_IFREG || type == S_IFCHR || type == S_IFIFO else {
            throw KMSTransportError(.configuration, "cannot read the \(kind) \(path): not a regular file")
        }
        let size = type == S_IFREG ? Int(status.st_size) : maxFileSize
        guard size <= maxFileSize else {
            throw KMSTransportError(.configuration, "the \(kind) \(path) is larger than \(maxFileSize) bytes")
        }
        // One byte more than the file, to see the end of a file that did not grow meanwhile.
        var buffer = [UInt8](repeating: 0, count: size + 1)
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                SecureMemory.zero(&buffer)
                throw KMSTransportError(.configuration, "cannot read the \(kind) \(path): \(String(cString: strerror(errno)))")
            }
            filled += count
        }
        guard filled < buffer.count else {
            SecureMemory.zero(&buffer)
            throw KMSTransportError(.configuration, type == S_IFREG
                ? "the \(kind) \(path) changed while it was read" : "the \(kind) \(path) is larger than \(maxFileSize) bytes")
        }
        buffer.removeLast(buffer.count - filled)  // shrinks in place: no copy
        return buffer
    }
}
