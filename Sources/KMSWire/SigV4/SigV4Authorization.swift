/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header.
///
/// Tolerant in layout as AWS is (spaces or tabs after the algorithm and around commas are
/// optional, the components may come in any order) and strict in content: each of the three
/// components exactly once, nothing else, a five-element credential with no empty element,
/// `SignedHeaders` lower-case, sorted and unique, and a signature of exactly 64 lower-case hex
/// digits (what every SDK writes). Anything else is an `IncompleteSignatureException`.
///
/// Splitting is done on UTF-8 bytes, never on `Character`s, so a combining mark after a `,` or
/// `=` cannot hide a separator.
struct SigV4Authorization {
    /// The access key ID, first element of the credential.
    let accessKeyID: Substring
    /// The credential scope, `yyyymmdd/region/service/aws4_request` (the credential after the key ID).
    let scope: Substring
    let scopeDate: Substring
    let region: Substring
    let service: Substring
    let terminator: Substring
    /// The `SignedHeaders` value as sent (it goes into the canonical request verbatim).
    let signedHeaders: Substring
    /// The `SignedHeaders` names, in order.
    let signedHeaderNames: [Substring]
    /// The 64 hex digits.
    let signature: Substring

    /// Parses an `Authorization` header value.
    /// - Parameters:
    ///   - header: The header value.
    ///   - hasDateHeader: Whether the request has `X-Amz-Date` or `Date`, so that a missing one is
    ///     reported in the same message as missing components, as AWS does.
    /// - Throws: `IncompleteSignatureException` for any malformed, missing, repeated or unknown part.
    init(parsing header: String, hasDateHeader: Bool) throws(KMSError) {
        let text = SigV4Text.trimmed(header[...])
        let bytes = text.utf8
        let algorithmEnd = bytes.firstIndex(where: SigV4Text.isBlank) ?? bytes.endIndex
        guard text[..<algorithmEnd].utf8.elementsEqual(SigV4Canonical.algorithm.utf8) else {
            throw SigV4Failure.unsupportedAlgorithm
        }
        let parameters = SigV4Text.trimmed(text[algorithmEnd...])

        var credential: Substring?
        var signedHeaders: Substring?
        var signature: Substring?
        if !parameters.isEmpty {
            for piece in Self.split(parameters, on: UInt8(ascii: ",")) {
                let component = SigV4Text.trimmed(piece)
                guard let equals = component.utf8.firstIndex(of: UInt8(ascii: "=")) else {
                    throw SigV4Failure.missingEqualSign
                }
                let key = component[..<equals].utf8
                let value = component[component.utf8.index(after: equals)...]
                if key.elementsEqual("Credential".utf8) {
                    guard credential == nil else { throw SigV4Failure.duplicate(parameter: "Credential") }
                    credential = value
                } else if key.elementsEqual("SignedHeaders".utf8) {
                    guard signedHeaders == nil else { throw SigV4Failure.duplicate(parameter: "SignedHeaders") }
                    signedHeaders = value
                } else if key.elementsEqual("Signature".utf8) {
                    guard signature == nil else { throw SigV4Failure.duplicate(parameter: "Signature") }
                    signature = value
                } else {
                    throw SigV4Failure.unknownParameter
                }
            }
        }
        guard let credential, let signedHeaders, let signature, hasDateHeader else {
            // AWS's order: Credential, Signature, SignedHeaders, then the date header.
            var missing: [String] = []
            if credential == nil { missing.append("Credential") }
            if signature == nil { missing.append("Signature") }
            if signedHeaders == nil { missing.append("SignedHeaders") }
            throw SigV4Failure.missing(parameters: missing, dateHeader: !hasDateHeader)
        }

        let elements = Self.split(credential, on: SigV4Text.slash)
        guard elements.count == 5, elements.allSatisfy({ !$0.isEmpty }) else {
            throw SigV4Failure.malformedCredential
        }
        accessKeyID = elements[0]
        scope = credential[elements[1].startIndex...]
        scopeDate = elements[1]
        region = elements[2]
        service = elements[3]
        terminator = elements[4]

        let names = Self.split(signedHeaders, on: UInt8(ascii: ";"))
        var previous: Substring?
        for name in names {
            guard !name.isEmpty, name.utf8.allSatisfy(Self.isLowerCaseToken) else {
                throw SigV4Failure.malformedSignedHeaders
            }
            if let previous, !previous.utf8.lexicographicallyPrecedes(name.utf8) {
                throw SigV4Failure.malformedSignedHeaders
            }
            previous = name
        }
        self.signedHeaders = signedHeaders
        signedHeaderNames = names

        guard signature.utf8.count == 64, signature.utf8.allSatisfy(Self.isLowerHex) else {
            throw SigV4Failure.malformedSignature
        }
        self.signature = signature
    }

    /// Whether `SignedHeaders` lists `name` (given in lower case).
    func signs(_ name: String) -> Bool {
        signedHeaderNames.contains { $0.utf8.elementsEqual(name.utf8) }
    }

    /// Splits on an ASCII byte, keeping empty pieces.
    private static func split(_ text: Substring, on separator: UInt8) -> [Substring] {
        var pieces: [Substring] = []
        var start = text.startIndex
        var index = text.startIndex
        let bytes = text.utf8
        while index < bytes.endIndex {
            if bytes[index] == separator {
                pieces.append(text[start..<index])
                start = bytes.index(after: index)
            }
            index = bytes.index(after: index)
        }
        pieces.append(text[start...])
        return pieces
    }

    /// A lower-case RFC 9110 token byte: `a-z 0-9 ! # $ % & ' * + - . ^ _ ` | ~`.
    private static func isLowerCaseToken(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (byte &- UInt8(ascii: "0") < 10) || (byte &- UInt8(ascii: "a") < 6)
    }
}
