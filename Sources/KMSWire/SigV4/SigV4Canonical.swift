import SodiumKit

/// The SigV4 canonical request and string to sign, shared by ``SigV4Signer`` and ``SigV4Verifier``
/// so that both sides canonicalise with the same code.
///
/// Sources: the IAM User Guide, "Create a signed AWS API request" (canonical request, string to
/// sign), and botocore's `SigV4Auth.canonical_request`, which the vectors in
/// `Tests/KMSWireTests/Vectors/sigv4.json` come from.
enum SigV4Canonical {
    /// The only algorithm: `AWS4-HMAC-SHA256`.
    static let algorithm = "AWS4-HMAC-SHA256"
    /// The credential scope terminator.
    static let terminator = "aws4_request"

    /// The canonical request, as bytes.
    ///
    /// - Parameters:
    ///   - request: The request; its headers are looked up by the signed names, case-insensitively.
    ///   - signedHeaderNames: The `SignedHeaders` names, lower-case, sorted, unique.
    ///   - signedHeaders: The same names joined with `;`, as the `SignedHeaders` line.
    ///   - payloadHash: The lower-case hex SHA-256 of the body.
    /// - Returns: The canonical request, or the first signed name that names no header.
    static func request(
        _ request: SigV4Request,
        signedHeaderNames: [ArraySlice<UInt8>],
        signedHeaders: ArraySlice<UInt8>,
        payloadHash: [UInt8]
    ) -> Result<[UInt8], MissingHeader> {
        var out: [UInt8] = []
        out.reserveCapacity(320 + request.path.utf8.count + signedHeaders.count * 2)
        out.append(contentsOf: request.method.utf8)
        out.append(SigV4Text.newline)

        if request.path.utf8.count == 1, request.path.utf8.first == SigV4Text.slash {
            // KMS: always "/", no query.
            out.append(SigV4Text.slash)
            out.append(SigV4Text.newline)
        } else {
            let target = Array(request.path.utf8)
            let queryStart = target.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
            appendURI(target[..<queryStart], to: &out)
            out.append(SigV4Text.newline)
            if queryStart < target.endIndex {
                appendQuery(target[(queryStart + 1)...], to: &out)
            }
        }
        out.append(SigV4Text.newline)

        for name in signedHeaderNames {
            out.append(contentsOf: name)
            out.append(UInt8(ascii: ":"))
            var found = false
            // Repeated headers: every value, in the order received, joined with ','.
            for header in request.headers where SigV4Text.nameMatches(header.name, lowercased: name) {
                if found { out.append(UInt8(ascii: ",")) }
                found = true
                SigV4Text.appendTrimmedValue(header.value, to: &out)
            }
            guard found else { return .failure(MissingHeader(name: String(decoding: name, as: UTF8.self))) }
            out.append(SigV4Text.newline)
        }
        out.append(SigV4Text.newline)
        out.append(contentsOf: signedHeaders)
        out.append(SigV4Text.newline)
        out.append(contentsOf: payloadHash)
        return .success(out)
    }

    /// A name in `SignedHeaders` with no header in the request.
    struct MissingHeader: Error {
        let name: String
    }

    /// The string to sign: algorithm, request date, scope and the hex SHA-256 of the canonical request.
    /// - Parameters:
    ///   - amzDate: The request date in ISO 8601 basic format (`20150830T123600Z`).
    ///   - scope: `yyyymmdd/region/service/aws4_request`.
    ///   - canonicalRequest: The canonical request bytes.
    /// - Returns: The bytes to HMAC with the signing key.
    static func stringToSign(amzDate: String, scope: some Collection<UInt8>, canonicalRequest: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(algorithm.utf8.count + amzDate.utf8.count + scope.count + 67)
        out.append(contentsOf: algorithm.utf8)
        out.append(SigV4Text.newline)
        out.append(contentsOf: amzDate.utf8)
        out.append(SigV4Text.newline)
        out.append(contentsOf: scope)
        out.append(SigV4Text.newline)
        out.append(contentsOf: Hex.utf8(SHA256.hash(canonicalRequest)))
        return out
    }

    /// The hex SHA-256 of a body.
    static func payloadHash(_ body: [UInt8]) -> [UInt8] {
        Hex.utf8(SHA256.hash(body))
    }

    /// Appends the canonical URI of a raw path, as botocore computes it for every service but S3
    /// (`SigV4Auth._normalize_url_path`): dot segments and empty segments removed
    /// (`remove_dot_segments`), then every byte but the unreserved ones and `/` percent-encoded.
    ///
    /// The raw path is still percent-encoded as it came on the wire, so an escape such as `%20` is
    /// encoded a second time (`%2520`): this is the "double encoding" AWS requires of every
    /// service except S3. KMS always uses `/`, which comes out as `/`.
    static func appendURI(_ path: ArraySlice<UInt8>, to out: inout [UInt8]) {
        if path.count == 1, path.first == SigV4Text.slash {
            out.append(SigV4Text.slash)
            return
        }
        guard !path.isEmpty else {
            out.append(SigV4Text.slash)
            return
        }
        var segments: [ArraySlice<UInt8>] = []
        for segment in path.split(separator: SigV4Text.slash, omittingEmptySubsequences: true) {
            if segment.count == 1, segment.first == UInt8(ascii: ".") { continue }
            if segment.count == 2, segment.allSatisfy({ $0 == UInt8(ascii: ".") }) {
                _ = segments.popLast()
                continue
            }
            segments.append(segment)
        }
        if path.first == SigV4Text.slash { out.append(SigV4Text.slash) }
        for (index, segment) in segments.enumerated() {
            if index > 0 { out.append(SigV4Text.slash) }
            SigV4Text.appendPercentEncoded(segment, keepingSlash: false, to: &out)
        }
        if path.last == SigV4Text.slash, !segments.isEmpty { out.append(SigV4Text.slash) }
    }

    /// Appends the canonical query string: each `name=value` pair percent-decoded, then encoded
    /// again with RFC 3986 (unreserved bytes kept, everything else `%XX`), sorted by encoded name
    /// and then by encoded value; a name without `=` gets an empty value; empty pairs (`a=1&&b=2`)
    /// are skipped.
    ///
    /// Decoding first makes `%7E` and `~` (or `%2f` and `%2F`) canonicalise alike, as AWS does;
    /// botocore sends its own parameters already in this form, so for its requests the result is
    /// the query as sent. (botocore signs a query it did not build as it finds it, `%7e` or an
    /// empty pair included; no SDK builds such a query, and KMS requests have none.)
    static func appendQuery(_ query: ArraySlice<UInt8>, to out: inout [UInt8]) {
        var pairs: [(name: [UInt8], value: [UInt8])] = []
        for pair in query.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
            var name: [UInt8] = []
            var value: [UInt8] = []
            SigV4Text.appendPercentEncoded(SigV4Text.percentDecoded(pair[..<equals]), keepingSlash: false, to: &name)
            if equals < pair.endIndex {
                let rest = pair[(equals + 1)...]
                SigV4Text.appendPercentEncoded(SigV4Text.percentDecoded(rest), keepingSlash: false, to: &value)
            }
            pairs.append((name, value))
        }
        pairs.sort { lhs, rhs in
            lhs.name == rhs.name
                ? lhs.value.lexicographicallyPrecedes(rhs.value)
                : lhs.name.lexicographicallyPrecedes(rhs.name)
        }
        for (index, pair) in pairs.enumerated() {
            if index > 0 { out.append(UInt8(ascii: "&")) }
            out.append(contentsOf: pair.name)
            out.append(UInt8(ascii: "="))
            out.append(contentsOf: pair.value)
        }
    }
}
