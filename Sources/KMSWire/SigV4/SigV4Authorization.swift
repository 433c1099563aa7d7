/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header.
///
/// Tolerant in layout as AWS is (spaces or tabs after the algorithm and around commas are
/// optional, the components may come in any order) and strict in content: each of the three
/// components exactly once, nothing else, a five-element credential with no empty element,
/// `SignedHeaders` lower-case, sorted and unique, and a signature of exactly 64 lower-case hex
/// digits (what every SDK writes). Anything else is an `IncompleteSignatureException`.
///
/// The header is parsed as UTF-8 bytes, with integer ranges into one copy of them: no
/// `Character` is ever formed (a combining mark after a `,` or `=` cannot hide a separator), and
/// no string is allocated until a part is needed as one.
struct SigV4Authorization {
    /// The header's bytes; every range below points into them.
    let bytes: [UInt8]
    /// The access key ID, first element of the credential.
    let accessKeyID: Range<Int>
    /// The credential scope, `yyyymmdd/region/service/aws4_request` (the credential after the key ID).
    let scope: Range<Int>
    let scopeDate: Range<Int>
    let region: Range<Int>
    let service: Range<Int>
    let terminator: Range<Int>
    /// The `SignedHeaders` value as sent (it goes into the canonical request verbatim).
    let signedHeaders: Range<Int>
    /// The `SignedHeaders` names, in order.
    let signedHeaderNames: [Range<Int>]
    /// The 64 hex digits.
    let signature: Range<Int>

    /// Parses an `Authorization` header value.
    /// - Parameters:
    ///   - header: The header value.
    ///   - hasDateHeader: Whether the request has `X-Amz-Date` or `Date`, so that a missing one is
    ///     reported in the same message as missing components, as AWS does.
    /// - Throws: `IncompleteSignatureException` for any malformed, missing, repeated or unknown part.
    init(parsing header: String, hasDateHeader: Bool) throws(KMSError) {
        bytes = Array(header.utf8)
        let text = SigV4Text.trimmed(0..<bytes.count, in: bytes)
        var algorithmEnd = text.lowerBound
        while algorithmEnd < text.upperBound, !SigV4Text.isBlank(bytes[algorithmEnd]) { algorithmEnd += 1 }
        guard bytes[text.lowerBound..<algorithmEnd].elementsEqual(Self.algorithm) else {
            throw SigV4Failure.unsupportedAlgorithm
        }
        let parameters = SigV4Text.trimmed(algorithmEnd..<text.upperBound, in: bytes)

        var credential: Range<Int>?
        var signedHeaders: Range<Int>?
        var signature: Range<Int>?
        // The components, split on ',' (an empty parameter list has none).
        var pieceStart = parameters.lowerBound
        while !parameters.isEmpty, pieceStart <= parameters.upperBound {
            var pieceEnd = pieceStart
            while pieceEnd < parameters.upperBound, bytes[pieceEnd] != UInt8(ascii: ",") { pieceEnd += 1 }
            let component = SigV4Text.trimmed(pieceStart..<pieceEnd, in: bytes)
            pieceStart = pieceEnd + 1
            guard let equals = bytes[component].firstIndex(of: UInt8(ascii: "=")) else {
                throw SigV4Failure.missingEqualSign
            }
            let key = bytes[component.lowerBound..<equals]
            let value = (equals + 1)..<component.upperBound
            if key.elementsEqual(Self.credentialKey) {
                guard credential == nil else { throw SigV4Failure.duplicate(parameter: "Credential") }
                credential = value
            } else if key.elementsEqual(Self.signedHeadersKey) {
                guard signedHeaders == nil else { throw SigV4Failure.duplicate(parameter: "SignedHeaders") }
                signedHeaders = value
            } else if key.elementsEqual(Self.signatureKey) {
                guard signature == nil else { throw SigV4Failure.duplicate(parameter: "Signature") }
                signature = value
            } else {
                throw SigV4Failure.unknownParameter
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

        let elements = Self.split(credential, in: bytes, on: SigV4Text.slash)
        guard elements.count == 5, elements.allSatisfy({ !$0.isEmpty }) else {
            throw SigV4Failure.malformedCredential
        }
        accessKeyID = elements[0]
        scope = elements[1].lowerBound..<credential.upperBound
        scopeDate = elements[1]
        region = elements[2]
        service = elements[3]
        terminator = elements[4]

        let names = Self.split(signedHeaders, in: bytes, on: UInt8(ascii: ";"))
        var previous: Range<Int>?
        for name in names {
            guard !name.isEmpty, bytes[name].allSatisfy(Self.isLowerCaseToken) else {
                throw SigV4Failure.malformedSignedHeaders
            }
            if let previous, !bytes[previous].lexicographicallyPrecedes(bytes[name]) {
                throw SigV4Failure.malformedSignedHeaders
            }
            previous = name
        }
        self.signedHeaders = signedHeaders
        signedHeaderNames = names

        guard signature.count == 64, bytes[signature].allSatisfy(SigV4Text.isLowerHex) else {
            throw SigV4Failure.malformedSignature
        }
        self.signature = signature
    }

    /// The bytes of a part.
    subscript(_ range: Range<Int>) -> ArraySlice<UInt8> { bytes[range] }

    func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

    /// Whether `SignedHeaders` lists `name` (lower-case bytes).
    func signs(_ name: [UInt8]) -> Bool {
        signedHeaderNames.contains { bytes[$0].elementsEqual(name) }
    }

    private static let algorithm: [UInt8] = Array(SigV4Canonical.algorithm.utf8)
    private static let credentialKey: [UInt8] = Array("Credential".utf8)
    private static let signedHeadersKey: [UInt8] = Array("SignedHeaders".utf8)
    private static let signatureKey: [UInt8] = Array("Signature".utf8)

    /// Splits a range on an ASCII byte, keeping empty pieces.
    private static func split(_ range: Range<Int>, in bytes: [UInt8], on separator: UInt8) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var start = range.lowerBound
        for index in range where bytes[index] == separator {
            pieces.append(start..<index)
            start = index + 1
        }
        pieces.append(start..<range.upperBound)
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
}
