package import Foundation
package import SodiumKit

/// Signs requests with AWS Signature Version 4 exactly as botocore's `SigV4Auth` does for KMS.
///
/// Signing sets `X-Amz-Date` (and `X-Amz-Security-Token` when the credentials have a session
/// token), then signs every header the request holds at that moment except `Authorization` and
/// the ones botocore never signs (`user-agent`, `expect`, `transfer-encoding`, `connection`,
/// `keep-alive`, `proxy-authenticate`, `proxy-authorization`, `te`, `trailer`, `upgrade`,
/// `x-amzn-trace-id`), and adds `Authorization`. For a KMS call built with `Host`, `Content-Type`
/// and `X-Amz-Target` that is `content-type;host;x-amz-date;x-amz-target` (plus
/// `x-amz-security-token`), as boto3 sends. Like botocore, add transport headers that a proxy may
/// change (`Content-Length`, `Connection`, `amz-sdk-*`) after signing. The body is always hashed;
/// no `X-Amz-Content-SHA256` is sent (KMS does not use it). One difference: given a request that
/// already has a `Date` header, botocore rewrites it and signs with it instead of `X-Amz-Date`;
/// this signer always adds `X-Amz-Date` (and signs a `Date` header like any other).
///
/// ```swift
/// let signer = SigV4Signer(region: "us-east-1")
/// let request = SigV4Request(
///     method: "POST", path: "/",
///     headers: [.init("Host", "localhost:8080"), .init("Content-Type", "application/x-amz-json-1.1"),
///               .init("X-Amz-Target", "TrentService.ListKeys")],
///     body: Array("{}".utf8))
/// let signed = try signer.sign(request, credentials: credentials, date: Date())
/// // signed.firstValue(for: "Authorization") ==
/// //   "AWS4-HMAC-SHA256 Credential=AKID…/20250101/us-east-1/kms/aws4_request, "
/// //   + "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=…"
/// ```
package struct SigV4Signer: Sendable {
    /// Why a request could not be signed.
    package enum SigningError: Error, Sendable, Equatable {
        /// The request has no `Host` header, which SigV4 always signs.
        case missingHost
        /// The date is outside years 0000–9999, which `X-Amz-Date` cannot write.
        case dateOutOfRange
        /// Guarded memory for the signing key could not be had.
        case sodium(SodiumError)
    }

    /// The region of the credential scope (`us-east-1`).
    package let region: String
    /// The service of the credential scope: `kms`.
    package let service: String

    /// Header names botocore never signs (`botocore.auth.SIGNED_HEADERS_BLACKLIST`): hop-by-hop
    /// headers and ones proxies rewrite.
    static let unsignedHeaders: Set<[UInt8]> = Set([
        "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id", "authorization",
    ].map { Array($0.utf8) })

    private static let host: [UInt8] = Array("host".utf8)

    /// Signing keys already derived, so a client signing many requests a day derives once.
    private let cache = SigV4SigningKey.Cache(capacity: 8)

    /// Creates a signer for one region and service.
    /// - Parameters:
    ///   - region: The region of the credential scope.
    ///   - service: The service of the credential scope; `kms` unless signing for something else.
    package init(region: String, service: String = "kms") {
        self.region = region
        self.service = service
    }

    /// Signs a request.
    ///
    /// Any `Authorization`, `X-Amz-Date` and `X-Amz-Security-Token` the request had are replaced
    /// (a retry re-signs cleanly).
    /// - Parameters:
    ///   - request: The request to sign, with its `Host` header and body as they will be sent.
    ///   - credentials: The access key pair (and session token, if any).
    ///   - date: The signing time; only whole seconds count.
    /// - Returns: The request with `X-Amz-Date`, `X-Amz-Security-Token` (with a session token) and
    ///   `Authorization` appended.
    /// - Throws: ``SigningError``.
    package func sign(
        _ request: SigV4Request, credentials: SigV4Credentials, date: Date
    ) throws(SigningError) -> SigV4Request {
        guard let timestamp = SigV4Timestamp(date) else { throw .dateOutOfRange }
        var signed = request
        signed.removeHeaders(named: "Authorization")
        signed.setHeader("X-Amz-Date", timestamp.amzDate)
        signed.removeHeaders(named: "X-Amz-Security-Token")
        if let token = credentials.sessionToken {
            signed.setHeader("X-Amz-Security-Token", token)
        }
        let authorization = try authorization(for: signed, credentials: credentials, timestamp: timestamp)
        signed.headers.append(.init("Authorization", authorization))
        return signed
    }

    /// The `Authorization` value for a request that already carries its `X-Amz-Date` (and token).
    func authorization(
        for request: SigV4Request, credentials: SigV4Credentials, timestamp: SigV4Timestamp
    ) throws(SigningError) -> String {
        var names: [[UInt8]] = []
        for header in request.headers {
            let name = SigV4Text.lowercasedBytes(header.name)
            if !Self.unsignedHeaders.contains(name), !names.contains(name) { names.append(name) }
        }
        guard names.contains(Self.host) else { throw .missingHost }
        names.sort { $0.lexicographicallyPrecedes($1) }
        var signedHeaders: [UInt8] = []
        for (index, name) in names.enumerated() {
            if index > 0 { signedHeaders.append(UInt8(ascii: ";")) }
            signedHeaders.append(contentsOf: name)
        }

        let amzDate = timestamp.amzDate
        let dateStamp = String(amzDate.prefix(8))
        let scope = "\(dateStamp)/\(region)/\(service)/\(SigV4Canonical.terminator)"
        let canonical: [UInt8]
        switch SigV4Canonical.request(
            request, signedHeaderNames: names.map { $0[...] }, signedHeaders: signedHeaders[...],
            payloadHash: SigV4Canonical.payloadHash(request.body))
        {
        case .success(let bytes): canonical = bytes
        case .failure(let missing):
            // Every name was taken from the request's own headers a moment ago.
            preconditionFailure("signed header '\(missing.name)' is not in the request")
        }
        let stringToSign = SigV4Canonical.stringToSign(amzDate: amzDate, scope: scope.utf8, canonicalRequest: canonical)
        let key: SecureBytes
        do {
            key = try cache.signingKey(
                accessKeyID: credentials.accessKeyID, date: dateStamp, region: region, service: service,
                secret: credentials.secretAccessKey)
        } catch {
            throw .sodium(error)
        }
        let signature = Hex.encode(SHA256.hmacPublic(stringToSign, key: key))
        return "\(SigV4Canonical.algorithm) Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(String(decoding: signedHeaders, as: UTF8.self)), Signature=\(signature)"
    }
}
