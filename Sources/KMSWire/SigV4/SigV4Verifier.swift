package import Foundation
package import SodiumKit

/// Verifies AWS Signature Version 4 on incoming requests, answering in AWS's error types and words.
///
/// It rebuilds the client's canonical request from what arrived (the body is always hashed as
/// received; an `X-Amz-Content-SHA256` header is never trusted for KMS), derives the signing key
/// from the secret the caller looks up, and compares signatures in constant time. Derived signing
/// keys are cached per access key, day, region and service in a small bounded cache, each entry
/// tied to the secret it came from, so a request costs one HMAC once its key has been seen today.
///
/// Checks, in order, and the error each failure gives:
///
/// | Check | Error |
/// |---|---|
/// | an `Authorization` header (presigned query-string signatures are not taken) | `MissingAuthenticationTokenException` (`IncompleteSignatureException` for a query signature) |
/// | no repeated `Authorization`, `Host`, `X-Amz-Date`, `X-Amz-Target` or `Content-Type` (nor `Date` when it is the date header) | `IncompleteSignatureException` naming the header |
/// | algorithm `AWS4-HMAC-SHA256`; `Credential`, `SignedHeaders`, `Signature` once each and well formed; an `X-Amz-Date` (or `Date`) that parses | `IncompleteSignatureException` |
/// | scope region, service, `aws4_request`, and date = the request date's day | `InvalidSignatureException` |
/// | `host`, the date header and ``requiredSignedHeaders`` (`x-amz-target`, `content-type`) among the signed headers | `InvalidSignatureException` naming the header |
/// | no `X-Amz-Security-Token` (this service issues no session credentials) | `UnrecognizedClientException` |
/// | request time within ±``allowedClockSkew`` of now | `InvalidSignatureException` (`Signature expired: …`) |
/// | a known access key | `UnrecognizedClientException` |
/// | every signed header present; the signature matches | `InvalidSignatureException` |
///
/// **Clock skew.** A request outside the window gets `InvalidSignatureException` with AWS's own
/// `Signature expired: …` or `Signature not yet current: …` text: the error SDKs that correct
/// their clock retry on (docs/SERVER.md says which do). They read the response's `Date` header,
/// so the server must send an accurate one.
///
/// **What must be signed.** The server acts on the operation (`X-Amz-Target`) and reads the body
/// by its `Content-Type`, so both must be signed, with `Host` and the date: a signature over
/// `host;x-amz-date` alone would let anyone on the path turn a DescribeKey into a DisableKey.
/// boto3, the aws CLI, the Go and JavaScript SDKs (sops, the Encryption SDKs) and envseal's own
/// client sign all four.
///
/// ```swift
/// let verifier = SigV4Verifier(region: "us-east-1")
/// let identity = try await verifier.verify(request) { accessKeyID in
///     try await store.secretAccessKey(for: accessKeyID)   // nil when unknown
/// }
/// print(identity.accessKeyID, identity.credentialScope)  // AKID… 20250101/us-east-1/kms/aws4_request
/// ```
package struct SigV4Verifier: Sendable {
    /// Who signed a request that verified.
    package struct VerifiedIdentity: Sendable, Hashable {
        /// The access key ID the request was signed with.
        package let accessKeyID: String
        /// The credential scope: `yyyymmdd/region/service/aws4_request`.
        package let credentialScope: String
        /// The request's signing time (`X-Amz-Date`, or `Date`).
        package let signedAt: Date

        /// Creates an identity.
        /// - Parameters:
        ///   - accessKeyID: The access key ID.
        ///   - credentialScope: The credential scope.
        ///   - signedAt: The signing time.
        package init(accessKeyID: String, credentialScope: String, signedAt: Date) {
            self.accessKeyID = accessKeyID
            self.credentialScope = credentialScope
            self.signedAt = signedAt
        }
    }

    /// The region requests must be scoped to.
    package let region: String
    /// The service requests must be scoped to: `kms`.
    package let service: String
    /// How far the request time may be from the server's clock, either way.
    package let allowedClockSkew: Duration
    /// The server's clock, read by ``verify(_:secret:)``.
    package let clock: @Sendable () -> Date
    /// Headers that must be signed besides `Host` and the date: for KMS, `X-Amz-Target` and
    /// `Content-Type`, what the server acts on.
    package let requiredSignedHeaders: [String]

    private let skewSeconds: Int64
    private let cache: SigV4SigningKey.Cache
    private let regionBytes: [UInt8]
    private let serviceBytes: [UInt8]
    private let requiredNames: [(quoted: String, lowercased: [UInt8])]

    private static let hostName: [UInt8] = Array("host".utf8)
    private static let amzDateName: [UInt8] = Array("x-amz-date".utf8)
    private static let dateName: [UInt8] = Array("date".utf8)
    private static let terminator: [UInt8] = Array(SigV4Canonical.terminator.utf8)
    private static let targetName: [UInt8] = Array("x-amz-target".utf8)
    private static let contentTypeName: [UInt8] = Array("content-type".utf8)

    /// What KMS's JSON protocol acts on, so what must be signed.
    package static let kmsRequiredSignedHeaders = ["X-Amz-Target", "Content-Type"]

    /// Creates a verifier.
    /// - Parameters:
    ///   - region: The region requests must be scoped to.
    ///   - service: The service requests must be scoped to; `kms`.
    ///   - allowedClockSkew: The largest accepted distance between the request time and `now`;
    ///     AWS's is 5 minutes. Whole seconds count; negative is taken as zero.
    ///   - signingKeyCacheCapacity: How many derived signing keys to keep (one per access key and
    ///     day); 0 derives the key on every request.
    ///   - clock: The current time, for ``verify(_:secret:)``.
    ///   - requiredSignedHeaders: Headers that must be signed besides `Host` and the date; KMS's
    ///     by default. Only a verifier for another protocol (the SigV4 test suite's) needs other.
    package init(
        region: String,
        service: String = "kms",
        allowedClockSkew: Duration = .seconds(300),
        signingKeyCacheCapacity: Int = 256,
        clock: @escaping @Sendable () -> Date = { Date() },
        requiredSignedHeaders: [String] = SigV4Verifier.kmsRequiredSignedHeaders
    ) {
        self.region = region
        self.requiredSignedHeaders = requiredSignedHeaders
        requiredNames = requiredSignedHeaders.map { ($0, SigV4Text.lowercasedBytes($0)) }
        self.service = service
        self.allowedClockSkew = allowedClockSkew
        self.clock = clock
        // Clamped to 10,000 years so that now ± skew cannot overflow.
        skewSeconds = min(max(allowedClockSkew.components.seconds, 0), 315_569_520_000)
        cache = SigV4SigningKey.Cache(capacity: signingKeyCacheCapacity)
        regionBytes = Array(region.utf8)
        serviceBytes = Array(service.utf8)
    }

    /// Verifies a request at the time ``clock`` gives.
    /// - Parameters:
    ///   - request: The request as received.
    ///   - secret: Looks up the secret access key of an access key ID; `nil` when there is none.
    ///     A ``KMSError`` it throws is passed on; any other error becomes `InternalFailureException`.
    /// - Returns: The access key ID and credential scope the request was signed with.
    /// - Throws: ``KMSError``: see the table in the type's documentation.
    package func verify(
        _ request: SigV4Request, secret: (String) async throws -> SecureBytes?
    ) async throws(KMSError) -> VerifiedIdentity {
        try await verify(request, now: clock(), secret: secret)
    }

    /// Verifies a request at a given time.
    /// - Parameters:
    ///   - request: The request as received.
    ///   - now: The server's current time.
    ///   - secret: Looks up the secret access key of an access key ID; `nil` when there is none.
    ///     A ``KMSError`` it throws is passed on; any other error becomes `InternalFailureException`.
    /// - Returns: The access key ID and credential scope the request was signed with.
    /// - Throws: ``KMSError``: see the table in the type's documentation.
    package func verify(
        _ request: SigV4Request, now: Date, secret: (String) async throws -> SecureBytes?
    ) async throws(KMSError) -> VerifiedIdentity {
        let found = FoundHeaders(request)
        guard let authorizationValue = found.authorization else {
            throw Self.hasQuerySignature(request.path) ? SigV4Failure.querySignature : SigV4Failure.missingToken
        }
        if let repeated = found.repeatedHeader { throw SigV4Failure.repeated(header: repeated) }
        let authorization = try SigV4Authorization(
            parsing: authorizationValue, hasDateHeader: found.amzDate != nil || found.date != nil)

        // The request time: X-Amz-Date, or Date when there is none (what the spec allows).
        let timestamp: SigV4Timestamp
        let dateHeader: (name: String, signedName: [UInt8])
        if let amzDate = found.amzDate {
            guard let parsed = SigV4Timestamp(amzDate: amzDate) else { throw SigV4Failure.malformedAmzDate }
            timestamp = parsed
            dateHeader = ("X-Amz-Date", Self.amzDateName)
        } else {
            guard found.dateCount == 1, let date = found.date else { throw SigV4Failure.repeated(header: "Date") }
            guard let parsed = SigV4Timestamp(httpDate: date) else { throw SigV4Failure.malformedDate }
            timestamp = parsed
            dateHeader = ("Date", Self.dateName)
        }
        let amzDate = timestamp.amzDate

        // The credential scope.
        guard authorization[authorization.region].elementsEqual(regionBytes) else {
            throw SigV4Failure.wrongRegion(authorization.text(authorization.region))
        }
        guard authorization[authorization.service].elementsEqual(serviceBytes) else {
            throw SigV4Failure.wrongService(expected: service)
        }
        guard authorization[authorization.terminator].elementsEqual(Self.terminator) else {
            throw SigV4Failure.wrongTerminator(authorization.text(authorization.terminator))
        }
        guard authorization[authorization.scopeDate].elementsEqual(amzDate.utf8.prefix(8)) else {
            throw SigV4Failure.scopeDateMismatch(
                scopeDate: authorization.text(authorization.scopeDate), requestDate: String(amzDate.prefix(8)),
                header: dateHeader.name)
        }

        // Host binds the request to this server, the date to its time, X-Amz-Target and
        // Content-Type are what the server acts on: all must be signed.
        guard authorization.signs(Self.hostName) else { throw SigV4Failure.notSigned(header: "Host") }
        guard authorization.signs(dateHeader.signedName) else { throw SigV4Failure.notSigned(header: dateHeader.name) }
        for name in requiredNames where !authorization.signs(name.lowercased) {
            throw SigV4Failure.notSigned(header: name.quoted)
        }

        // envseal issues long-term keys only: a session token cannot be one of ours, and AWS
        // answers an unknown token with UnrecognizedClientException.
        guard !found.hasSecurityToken else { throw SigV4Failure.unrecognizedClient }

        try checkClockSkew(timestamp, requestDate: amzDate, now: now)

        let accessKeyID = authorization.text(authorization.accessKeyID)
        let secretAccessKey: SecureBytes?
        do {
            secretAccessKey = try await secret(accessKeyID)
        } catch let error as KMSError {
            throw error
        } catch {
            throw SigV4Failure.lookupFailed
        }
        guard let secretAccessKey else { throw SigV4Failure.unrecognizedClient }

        let canonical: [UInt8]
        switch SigV4Canonical.request(
            request, signedHeaderNames: authorization.signedHeaderNames.map { authorization[$0] },
            signedHeaders: authorization[authorization.signedHeaders],
            payloadHash: SigV4Canonical.payloadHash(request.body))
        {
        case .success(let bytes): canonical = bytes
        case .failure(let missing): throw SigV4Failure.signedHeaderMissing(missing.name)
        }
        let stringToSign = SigV4Canonical.stringToSign(
            amzDate: amzDate, scope: authorization[authorization.scope], canonicalRequest: canonical)
        let signingKey: SecureBytes
        do {
            signingKey = try cache.signingKey(
                accessKeyID: accessKeyID, date: String(amzDate.prefix(8)), region: region, service: service,
                secret: secretAccessKey)
        } catch {
            throw SigV4Failure.outOfMemory
        }
        let expected = Hex.utf8(SHA256.hmacPublic(stringToSign, key: signingKey))
        // Both as arrays: ConstantTime.equal is generic and not inlinable, and arrays take its
        // cheapest path.
        guard ConstantTime.equal(expected, Array(authorization[authorization.signature])) else {
            throw SigV4Failure.signatureMismatch
        }
        return VerifiedIdentity(
            accessKeyID: accessKeyID, credentialScope: authorization.text(authorization.scope),
            signedAt: timestamp.date)
    }

    /// The error a request with a header repeated that must appear once gets, for a caller that
    /// reads such a header (`X-Amz-Target`) before verifying.
    /// - Parameter header: The header's name, as it is to be quoted.
    /// - Returns: An `IncompleteSignatureException` naming the header.
    package static func repeatedHeaderError(_ header: String) -> KMSError {
        SigV4Failure.repeated(header: header)
    }

    /// The number of signing keys in the cache (for tests and metrics).
    package var cachedSigningKeyCount: Int { cache.count }

    // MARK: - Steps

    private func checkClockSkew(_ timestamp: SigV4Timestamp, requestDate: String, now: Date) throws(KMSError) {
        // Whole seconds, like the request time and AWS's messages: a request is in time while
        // |request - now| <= skew, with now truncated to its second.
        guard let current = SigV4Timestamp(now) else { throw SigV4Failure.outOfRangeClock }
        let request = timestamp.secondsSince1970
        let earliest = current.secondsSince1970 - skewSeconds
        let latest = current.secondsSince1970 + skewSeconds
        guard request < earliest || request > latest else { return }
        let skewText = skewSeconds % 60 == 0 ? "\(skewSeconds / 60) min" : "\(skewSeconds) sec"
        if request < earliest {
            throw SigV4Failure.expired(
                requestDate: requestDate, earliest: SigV4Timestamp(secondsSince1970: earliest).amzDate,
                now: current.amzDate, skew: skewText)
        }
        throw SigV4Failure.notYetCurrent(
            requestDate: requestDate, latest: SigV4Timestamp(secondsSince1970: latest).amzDate,
            now: current.amzDate, skew: skewText)
    }

    /// Whether the query string carries presigned-URL parameters.
    private static func hasQuerySignature(_ path: String) -> Bool {
        guard let question = path.utf8.firstIndex(of: UInt8(ascii: "?")) else { return false }
        let query = path[path.utf8.index(after: question)...]
        return query.split(separator: "&").contains { pair in
            pair.hasPrefix("X-Amz-Signature=") || pair.hasPrefix("X-Amz-Credential=")
                || pair.hasPrefix("X-Amz-Algorithm=")
        }
    }

    /// The headers verification reads, found in one pass over the request.
    private struct FoundHeaders {
        var authorization: String?
        var authorizationCount = 0
        var amzDate: String?
        var amzDateCount = 0
        var date: String?
        var dateCount = 0
        var hostCount = 0
        var targetCount = 0
        var contentTypeCount = 0
        var hasSecurityToken = false

        static let authorization: [UInt8] = Array("authorization".utf8)
        static let securityToken: [UInt8] = Array("x-amz-security-token".utf8)

        /// The first header that must appear once but does not (`Date` is checked where it is used).
        var repeatedHeader: String? {
            if authorizationCount > 1 { return "Authorization" }
            if hostCount > 1 { return "Host" }
            if amzDateCount > 1 { return "X-Amz-Date" }
            if targetCount > 1 { return "X-Amz-Target" }
            if contentTypeCount > 1 { return "Content-Type" }
            return nil
        }

        init(_ request: SigV4Request) {
            for header in request.headers {
                // Compare lengths first: most headers match none of these names.
                switch header.name.utf8.count {
                case 13 where SigV4Text.nameMatches(header.name, lowercased: Self.authorization[...]):
                    authorizationCount += 1
                    if authorization == nil { authorization = header.value }
                case 10 where SigV4Text.nameMatches(header.name, lowercased: SigV4Verifier.amzDateName[...]):
                    amzDateCount += 1
                    if amzDate == nil { amzDate = header.value }
                case 4 where SigV4Text.nameMatches(header.name, lowercased: SigV4Verifier.dateName[...]):
                    dateCount += 1
                    if date == nil { date = header.value }
                case 4 where SigV4Text.nameMatches(header.name, lowercased: SigV4Verifier.hostName[...]):
                    hostCount += 1
                case 12 where SigV4Text.nameMatches(header.name, lowercased: SigV4Verifier.targetName[...]):
                    targetCount += 1
                case 12 where SigV4Text.nameMatches(header.name, lowercased: SigV4Verifier.contentTypeName[...]):
                    contentTypeCount += 1
                case 20 where SigV4Text.nameMatches(header.name, lowercased: Self.securityToken[...]):
                    hasSecurityToken = true
                default:
                    break
                }
            }
        }
    }
}
