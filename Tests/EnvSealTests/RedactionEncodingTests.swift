import Foundation
import Testing
import EnvSeal

/// Each encoding is produced here by an independent encoder (Foundation's), not by the code under
/// test, and must come out wholly replaced.
@Suite("Redaction: encodings")
struct RedactionEncodingTests {
    /// One secret with every kind of character encoders touch, one of letters and digits only.
    static let secrets = [
        "Tr0ub4dor&3 horse/staple+\"é\\x~*'!",
        "AKIAIOSFODNN7EXAMPLEwJalrXUtnFEMIK7MDENG",
    ]

    enum Form: String, CaseIterable, CustomTestStringConvertible {
        case plain, base64, base64URL, base64URLUnpadded, hexLower, hexUpper
        case percentUpper, percentLower, formPlus, uriComponent, whatwgForm
        case jsonFoundation, jsonWithoutSlashEscapes, jsonASCIIOnly

        var testDescription: String { rawValue }
    }

    static func encode(_ secret: String, as form: Form) throws -> String {
        let data = Data(secret.utf8)
        let alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        let unreserved = CharacterSet(charactersIn: alphanumerics + "-._~")
        func percent(_ allowed: CharacterSet) -> String {
            secret.addingPercentEncoding(withAllowedCharacters: allowed)!
        }
        func json(_ formatting: JSONEncoder.OutputFormatting) throws -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = formatting
            let quoted = String(decoding: try encoder.encode(secret), as: UTF8.self)
            return String(quoted.dropFirst().dropLast())
        }
        switch form {
        case .plain: return secret
        case .base64: return data.base64EncodedString()
        case .base64URL:
            return data.base64EncodedString()
                .replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_")
        case .base64URLUnpadded: return try encode(secret, as: .base64URL).replacingOccurrences(of: "=", with: "")
        case .hexLower: return data.map { String(format: "%02x", $0) }.joined()
        case .hexUpper: return data.map { String(format: "%02X", $0) }.joined()
        case .percentUpper: return percent(unreserved)
        case .percentLower:
            // Lower-case only the hex digits of each escape.
            var out = ""
            var rest = Substring(percent(unreserved))
            while let range = rest.range(of: "%") {
                out += rest[..<range.upperBound]
                out += rest[range.upperBound...].prefix(2).lowercased()
                rest = rest[range.upperBound...].dropFirst(2)
            }
            return out + rest
        case .formPlus:
            return percent(unreserved.union(CharacterSet(charactersIn: " "))).replacingOccurrences(of: " ", with: "+")
        case .uriComponent: return percent(unreserved.union(CharacterSet(charactersIn: "!'()*")))
        case .whatwgForm:
            let allowed = CharacterSet(charactersIn: alphanumerics + "*-._ ")
            return percent(allowed).replacingOccurrences(of: " ", with: "+")
        case .jsonFoundation: return try json([])
        case .jsonWithoutSlashEscapes: return try json([.withoutEscapingSlashes])
        case .jsonASCIIOnly:
            return try json([.withoutEscapingSlashes]).unicodeScalars.map { scalar in
                scalar.isASCII ? String(scalar) : String(format: "\\u%04x", scalar.value)
            }.joined()
        }
    }

    @Test("each encoding of a secret is replaced whole", arguments: [0, 1], Form.allCases)
    func encodingReplaced(secretIndex: Int, form: Form) throws {
        let secret = Self.secrets[secretIndex]
        let patterns = try RedactionFixture.patterns([("SECRET", secret)])
        let encoded = try Self.encode(secret, as: form)
        let output = patterns.redact("before \(encoded) after")
        let exact = output == "before <redacted> after"
        #expect(exact, "\(form) of secret \(secretIndex) not replaced whole")
    }

    /// Prefixes of each length modulo 3, so the secret starts at every alignment in the base64.
    static let prefixes = ["", "u", "us", "user:", "admin:", "Basic realm:"]

    @Test("base64 of a secret behind any prefix: everything from the first character fixed by the secret is replaced",
          arguments: prefixes, [false, true])
    func base64AfterPrefix(prefix: String, urlSafe: Bool) throws {
        let secret = Self.secrets[0]
        let patterns = try RedactionFixture.patterns([("SECRET", secret)])
        var encoded = Data((prefix + secret).utf8).base64EncodedString()
        if urlSafe {
            encoded = encoded.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        }
        // Characters up to ⌈8·|prefix|/6⌉ carry bits of the prefix; they stay.
        let kept = (8 * prefix.utf8.count + 5) / 6
        let output = patterns.redact("Authorization: Basic \(encoded)\n")
        let exact = output == "Authorization: Basic \(encoded.prefix(kept))<redacted>\n"
        #expect(exact, "prefix of \(prefix.utf8.count) bytes, url-safe \(urlSafe)")
    }

    @Test("base64 of a secret between a prefix and a suffix: only the edge characters that mix in the neighbours stay",
          arguments: prefixes)
    func base64Inside(prefix: String) throws {
        let secret = Self.secrets[1]
        let suffix = "@example.com"
        let patterns = try RedactionFixture.patterns([("SECRET", secret)])
        let encoded = Array(Data((prefix + secret + suffix).utf8).base64EncodedString())
        let first = (8 * prefix.utf8.count + 5) / 6
        let end = 8 * (prefix.utf8.count + secret.utf8.count) / 6
        let output = patterns.redact(String(encoded))
        let exact = output == String(encoded[..<first]) + "<redacted>" + String(encoded[end...])
        #expect(exact, "prefix of \(prefix.utf8.count) bytes")
        #expect(end - first >= secret.utf8.count * 4 / 3 - 2)
    }
}
