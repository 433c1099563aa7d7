/// The errors ``SigV4Verifier`` answers with, in AWS's words where AWS's words are known.
///
/// Error types and texts as AWS JSON services send them (quoted in SDK issue threads, e.g.
/// aws/aws-sdk-js#254, aws/aws-sdk-go#2194, aws/aws-sdk-java#1097, cognitect-labs/aws-api#27,
/// aws/aws-encryption-sdk-java#9). Where AWS echoes the whole `Authorization` header, these do
/// not: a message may quote a value only after it has been checked to be short and made of the
/// characters a region, a date or a header name can hold, so nothing a client sends (and nothing
/// secret) is reflected back or into logs.
enum SigV4Failure {
    // MARK: MissingAuthenticationTokenException

    /// No `Authorization` header: the text of AWS's core services (STS, KMS, DynamoDB).
    static let missingToken = KMSError(.missingAuthenticationToken, "Request is missing Authentication Token")

    /// A presigned (query-string) signature, which this service does not take: KMS clients always
    /// sign with the header, and one way in is easier to keep right.
    static let querySignature = KMSError(
        .incompleteSignature,
        "Query-string authentication (X-Amz-Signature) is not supported: sign the request with the Authorization header.")

    // MARK: IncompleteSignatureException

    /// A header that must appear at most once (`Authorization`, `Host`, `X-Amz-Date`, `Date`,
    /// `X-Amz-Target`, `Content-Type`) appears more often. SigV4 would sign the values joined by
    /// `,`, but whoever reads the header afterwards may take the first or the last: the request is
    /// ambiguous, so it is refused before anything reads it.
    static func repeated(header: String) -> KMSError {
        KMSError(.incompleteSignature, "The request has more than one '\(header)' header.")
    }

    /// Any scheme but `AWS4-HMAC-SHA256`. AWS treats a header it cannot read as SigV4 as an
    /// incomplete SigV4 signature (a `Bearer` token gets "Authorization header requires
    /// 'Credential' parameter. …"), so this is an `IncompleteSignatureException` too.
    static let unsupportedAlgorithm = KMSError(
        .incompleteSignature,
        "Unsupported Authorization algorithm: only 'AWS4-HMAC-SHA256' is supported.")

    /// The missing components in AWS's order and words, joined as AWS joins them.
    static func missing(parameters: [String], dateHeader: Bool) -> KMSError {
        var sentences = parameters.map { "Authorization header requires '\($0)' parameter." }
        if dateHeader {
            sentences.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        }
        return KMSError(.incompleteSignature, sentences.joined(separator: " "))
    }

    static let missingEqualSign = KMSError(
        .incompleteSignature, "A component of the Authorization header is not a valid key=value pair (missing equal-sign).")

    static let unknownParameter = KMSError(
        .incompleteSignature,
        "The Authorization header may only have the parameters 'Credential', 'SignedHeaders' and 'Signature'.")

    static func duplicate(parameter: String) -> KMSError {
        KMSError(.incompleteSignature, "The Authorization header has more than one '\(parameter)' parameter.")
    }

    static let malformedCredential = KMSError(
        .incompleteSignature,
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term.")

    static let malformedSignedHeaders = KMSError(
        .incompleteSignature,
        "SignedHeaders must be a ';'-separated list of lower-case header names, sorted and without duplicates.")

    static let malformedSignature = KMSError(
        .incompleteSignature, "Signature must be 64 lower-case hexadecimal characters.")

    static let malformedAmzDate = KMSError(
        .incompleteSignature, "X-Amz-Date must be in the ISO-8601 basic format yyyyMMdd'T'HHmmss'Z'.")

    static let malformedDate = KMSError(
        .incompleteSignature,
        "Date must be an HTTP date (e.g. 'Sun, 30 Aug 2015 12:36:00 GMT') or in the ISO-8601 basic format.")

    // MARK: InvalidSignatureException

    /// AWS: "Credential should be scoped to a valid region, not 'us-west-1'. "
    static func wrongRegion(_ region: String) -> KMSError {
        if isQuotable(region, allowing: { $0 == UInt8(ascii: "-") }) {
            return KMSError(.invalidSignature, "Credential should be scoped to a valid region, not '\(region)'.")
        }
        return KMSError(.invalidSignature, "Credential should be scoped to a valid region.")
    }

    /// AWS: "Credential should be scoped to correct service: 'kms'. "
    static func wrongService(expected: String) -> KMSError {
        KMSError(.invalidSignature, "Credential should be scoped to correct service: '\(expected)'.")
    }

    /// AWS: "Credential should be scoped with a valid terminator: 'aws4_request', not 'x'. "
    static func wrongTerminator(_ terminator: String) -> KMSError {
        if isQuotable(terminator, allowing: { $0 == UInt8(ascii: "_") }) {
            return KMSError(
                .invalidSignature,
                "Credential should be scoped with a valid terminator: 'aws4_request', not '\(terminator)'.")
        }
        return KMSError(.invalidSignature, "Credential should be scoped with a valid terminator: 'aws4_request'.")
    }

    /// AWS: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: …"
    static func scopeDateMismatch(scopeDate: String, requestDate: String, header: String) -> KMSError {
        let prefix = "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP"
        if scopeDate.utf8.count == 8, scopeDate.utf8.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) {
            return KMSError(.invalidSignature, "\(prefix): '\(scopeDate)' != '\(requestDate)', from '\(header)'.")
        }
        return KMSError(.invalidSignature, "\(prefix).")
    }

    /// A header the server acts on is not among the signed headers, so it could have been changed
    /// in transit. AWS's text and type for `Host` ("'Host' must be a 'SignedHeader' in the AWS
    /// Authorization.", `InvalidSignatureException`); the same for `X-Amz-Target`, `Content-Type`
    /// and the date header.
    static func notSigned(header: String) -> KMSError {
        KMSError(.invalidSignature, "'\(header)' must be a 'SignedHeader' in the AWS Authorization.")
    }

    /// A name in `SignedHeaders` that names no header of the request: what the client signed is
    /// not what arrived, so AWS's verdict is a signature mismatch.
    static func signedHeaderMissing(_ name: String) -> KMSError {
        if isQuotable(name, allowing: { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }) {
            return KMSError(.invalidSignature, "Header '\(name)' is in SignedHeaders but not in the request.")
        }
        return KMSError(.invalidSignature, "A header in SignedHeaders is not in the request.")
    }

    /// The request time is more than the allowed skew before the server's clock. AWS's text, which
    /// every SDK that corrects clock skew recognises by its type, `InvalidSignatureException`.
    static func expired(requestDate: String, earliest: String, now: String, skew: String) -> KMSError {
        KMSError(.invalidSignature, "Signature expired: \(requestDate) is now earlier than \(earliest) (\(now) - \(skew).)")
    }

    /// The request time is more than the allowed skew after the server's clock (AWS's text).
    static func notYetCurrent(requestDate: String, latest: String, now: String, skew: String) -> KMSError {
        KMSError(.invalidSignature,
                 "Signature not yet current: \(requestDate) is still later than \(latest) (\(now) + \(skew).)")
    }

    /// AWS's signature-mismatch text.
    static let signatureMismatch = KMSError(
        .invalidSignature,
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
            + "Access Key and signing method. Consult the service documentation for details.")

    // MARK: UnrecognizedClientException

    /// An unknown access key ID, or a session token (this service issues none): AWS's text for both.
    static let unrecognizedClient = KMSError(.unrecognizedClient, "The security token included in the request is invalid.")

    // MARK: Other

    /// The secret lookup failed for a reason of its own (not "no such key").
    static let lookupFailed = KMSError(.internalFailure, "The credentials of the request could not be looked up.")

    /// The server's clock is outside years 0000–9999.
    static let outOfRangeClock = KMSError(.internalFailure, "The server's clock is out of range.")

    /// Guarded memory for the signing key could not be had.
    static let outOfMemory = KMSError(.internalFailure, "The request signature could not be computed.")

    /// Whether a value is short and made only of lower-case letters, digits and the allowed bytes,
    /// so that quoting it back can carry no markup, control character, quote or long payload.
    private static func isQuotable(_ value: String, allowing extra: (UInt8) -> Bool) -> Bool {
        let bytes = value.utf8
        return !bytes.isEmpty && bytes.count <= 32 && bytes.allSatisfy { byte in
            (byte &- UInt8(ascii: "a") < 26) || (byte &- UInt8(ascii: "0") < 10) || extra(byte)
        }
    }
}
