import Foundation
import SodiumKit
import Testing
import TestSupport
@testable import KMSWire

/// A KMS Encrypt request signed by the Swift signer (itself checked against botocore's vectors).
enum SigV4Fixture {
    static let accessKeyID = "AKIAENVSEALTEST00001"
    static let secret = "envseal/Test+Secret/0123456789abcdefSECRETxyz"
    static let signedAt = sigV4Date("20250101T000000Z")
    static let verifier = SigV4Verifier(region: "us-east-1")
    static let lookup = secrets([accessKeyID: secret])
    static let credentials = try! SigV4Credentials(accessKeyID: accessKeyID, secretAccessKey: secret)

    static let unsigned = SigV4Request(
        method: "POST", path: "/",
        headers: [.init("Host", "localhost:8080"), .init("Content-Type", "application/x-amz-json-1.1"),
                  .init("X-Amz-Target", "TrentService.Encrypt")],
        body: Array(#"{"KeyId":"alias/envseal","Plaintext":"aGk="}"#.utf8))

    static func signed(
        _ request: SigV4Request = unsigned, region: String = "us-east-1", service: String = "kms",
        at date: Date = signedAt, credentials: SigV4Credentials = credentials
    ) -> SigV4Request {
        try! SigV4Signer(region: region, service: service).sign(request, credentials: credentials, date: date)
    }

    static let valid = signed()
    static let authorization = valid.firstValue(for: "Authorization")!
    static let signature = String(authorization.split(separator: "Signature=")[1])
    static let credential = "Credential=\(accessKeyID)/20250101/us-east-1/kms/aws4_request"
    static let signedHeaders = "SignedHeaders=content-type;host;x-amz-date;x-amz-target"
    static let signaturePart = "Signature=\(signature)"

    /// The valid request with another `Authorization` value.
    static func with(authorization: String) -> SigV4Request {
        valid.setting("Authorization", authorization)
    }

    /// The valid request with the Authorization components given.
    static func with(_ components: String...) -> SigV4Request {
        with(authorization: "AWS4-HMAC-SHA256 " + components.joined(separator: ", "))
    }
}

/// One way for a request to fail, and what the verifier must answer.
struct SigV4Unhappy: Sendable, CustomTestStringConvertible {
    let name: String
    let request: SigV4Request
    var now: Date = SigV4Fixture.signedAt
    var lookup: @Sendable (String) async throws -> SecureBytes? = SigV4Fixture.lookup
    let type: KMSErrorType
    /// The exact message, when the case pins it.
    var message: String?
    var testDescription: String { name }

    static let missingDate = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    static let mismatch = SigV4Failure.signatureMismatch.message

    static let all: [SigV4Unhappy] = {
        typealias F = SigV4Fixture
        let (c, h, s) = (F.credential, F.signedHeaders, F.signaturePart)
        var cases: [SigV4Unhappy] = [
            // Not signed at all.
            .init(name: "no Authorization", request: F.valid.removing("Authorization"),
                  type: .missingAuthenticationToken, message: "Request is missing Authentication Token"),
            .init(name: "no Authorization, no date", request: F.unsigned,
                  type: .missingAuthenticationToken, message: "Request is missing Authentication Token"),
            .init(name: "query-string signature",
                  request: SigV4Request(method: "POST", path: "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00",
                                        headers: F.unsigned.headers, body: F.unsigned.body),
                  type: .incompleteSignature),
            .init(name: "two Authorization headers",
                  request: SigV4Request(method: "POST", path: "/",
                                        headers: F.valid.headers + [.init("authorization", F.authorization)],
                                        body: F.valid.body),
                  type: .incompleteSignature, message: "The request has more than one 'Authorization' header."),

            // Malformed or missing components.
            .init(name: "algorithm only", request: F.with(authorization: "AWS4-HMAC-SHA256"), type: .incompleteSignature,
                  message: "Authorization header requires 'Credential' parameter. Authorization header requires "
                      + "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter."),
            .init(name: "missing Credential", request: F.with(h, s), type: .incompleteSignature,
                  message: "Authorization header requires 'Credential' parameter."),
            .init(name: "missing SignedHeaders", request: F.with(c, s), type: .incompleteSignature,
                  message: "Authorization header requires 'SignedHeaders' parameter."),
            .init(name: "missing Signature", request: F.with(c, h), type: .incompleteSignature,
                  message: "Authorization header requires 'Signature' parameter."),
            .init(name: "missing Credential and date", request: F.with(h, s).removing("X-Amz-Date"),
                  type: .incompleteSignature,
                  message: "Authorization header requires 'Credential' parameter. " + missingDate),
            .init(name: "missing X-Amz-Date", request: F.valid.removing("X-Amz-Date"), type: .incompleteSignature,
                  message: missingDate),
            .init(name: "duplicate Credential", request: F.with(c, h, s, c), type: .incompleteSignature,
                  message: "The Authorization header has more than one 'Credential' parameter."),
            .init(name: "duplicate Signature", request: F.with(c, s, h, s), type: .incompleteSignature),
            .init(name: "duplicate SignedHeaders", request: F.with(h, c, h, s), type: .incompleteSignature),
            .init(name: "component without =", request: F.with(c, "SignedHeaders", s), type: .incompleteSignature),
            .init(name: "trailing comma", request: F.with(authorization: F.authorization + ","),
                  type: .incompleteSignature),
            .init(name: "empty component", request: F.with(c, "", h, s), type: .incompleteSignature),
            .init(name: "unknown component", request: F.with(c, h, s, "Foo=bar"), type: .incompleteSignature),
            .init(name: "component name in lower case", request: F.with("c" + c.dropFirst(), h, s),
                  type: .incompleteSignature),
            .init(name: "space before =", request: F.with("Credential =" + c.dropFirst(11), h, s),
                  type: .incompleteSignature),
            .init(name: "credential with 4 elements",
                  request: F.with("Credential=\(F.accessKeyID)/20250101/us-east-1/kms", h, s), type: .incompleteSignature,
                  message: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term."),
            .init(name: "credential with 6 elements", request: F.with(c + "/x", h, s), type: .incompleteSignature),
            .init(name: "credential with an empty key id",
                  request: F.with("Credential=/20250101/us-east-1/kms/aws4_request", h, s), type: .incompleteSignature),
            .init(name: "credential with an empty region",
                  request: F.with("Credential=\(F.accessKeyID)/20250101//kms/aws4_request", h, s),
                  type: .incompleteSignature),
            .init(name: "SignedHeaders with upper case",
                  request: F.with(c, "SignedHeaders=content-type;Host;x-amz-date;x-amz-target", s),
                  type: .incompleteSignature),
            .init(name: "SignedHeaders unsorted",
                  request: F.with(c, "SignedHeaders=host;content-type;x-amz-date;x-amz-target", s),
                  type: .incompleteSignature),
            .init(name: "SignedHeaders with a duplicate",
                  request: F.with(c, "SignedHeaders=content-type;host;host;x-amz-date;x-amz-target", s),
                  type: .incompleteSignature),
            .init(name: "SignedHeaders empty", request: F.with(c, "SignedHeaders=", s), type: .incompleteSignature),
            .init(name: "SignedHeaders with a trailing ;", request: F.with(c, h + ";", s), type: .incompleteSignature),
            .init(name: "SignedHeaders with a space", request: F.with(c, "SignedHeaders=content-type; host", s),
                  type: .incompleteSignature),
            .init(name: "signature in upper-case hex", request: F.with(c, h, "Signature=" + F.signature.uppercased()),
                  type: .incompleteSignature, message: "Signature must be 64 lower-case hexadecimal characters."),
            .init(name: "signature of 63 digits", request: F.with(c, h, String(s.dropLast())), type: .incompleteSignature),
            .init(name: "signature of 65 digits", request: F.with(c, h, s + "0"), type: .incompleteSignature),
            .init(name: "signature of 32 bytes base64",
                  request: F.with(c, h, "Signature=" + Data(repeating: 7, count: 32).base64EncodedString()),
                  type: .incompleteSignature),
            .init(name: "signature not hex", request: F.with(c, h, "Signature=g" + F.signature.dropFirst()),
                  type: .incompleteSignature),
            .init(name: "signature empty", request: F.with(c, h, "Signature="), type: .incompleteSignature),

            // Other algorithms and schemes.
            .init(name: "AWS4-HMAC-SHA512",
                  request: F.with(authorization: F.authorization.replacingOccurrences(of: "SHA256", with: "SHA512")),
                  type: .incompleteSignature,
                  message: "Unsupported Authorization algorithm: only 'AWS4-HMAC-SHA256' is supported."),
            .init(name: "SigV4a",
                  request: F.with(authorization: F.authorization.replacingOccurrences(
                      of: "AWS4-HMAC-SHA256", with: "AWS4-ECDSA-P256-SHA256")),
                  type: .incompleteSignature),
            .init(name: "algorithm in lower case", request: F.with(authorization: F.authorization.lowercased()),
                  type: .incompleteSignature),
            .init(name: "no space after the algorithm",
                  request: F.with(authorization: F.authorization.replacingOccurrences(
                      of: "SHA256 Credential", with: "SHA256,Credential")),
                  type: .incompleteSignature),
            .init(name: "Bearer token", request: F.with(authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"),
                  type: .incompleteSignature),
            .init(name: "SigV2", request: F.with(authorization: "AWS \(F.accessKeyID):c2lnbmF0dXJl"),
                  type: .incompleteSignature),
            .init(name: "empty Authorization", request: F.with(authorization: ""), type: .incompleteSignature),

            // Dates.
            .init(name: "X-Amz-Date in extended format", request: F.valid.setting("X-Amz-Date", "2025-01-01T00:00:00Z"),
                  type: .incompleteSignature),
            .init(name: "X-Amz-Date on 30 February", request: F.valid.setting("X-Amz-Date", "20250230T000000Z"),
                  type: .incompleteSignature),
            .init(name: "X-Amz-Date at hour 24", request: F.valid.setting("X-Amz-Date", "20250101T240000Z"),
                  type: .incompleteSignature),
            .init(name: "X-Amz-Date without Z", request: F.valid.setting("X-Amz-Date", "20250101T000000"),
                  type: .incompleteSignature),
            .init(name: "two X-Amz-Date headers",
                  request: SigV4Request(method: "POST", path: "/",
                                        headers: F.valid.headers + [.init("X-Amz-Date", "20250101T000000Z")],
                                        body: F.valid.body),
                  type: .incompleteSignature, message: "The request has more than one 'X-Amz-Date' header."),
            .init(name: "Date header that is not a date",
                  request: F.valid.removing("X-Amz-Date").setting("Date", "yesterday"),
                  type: .incompleteSignature),

            // Credential scope.
            .init(name: "wrong service", request: F.signed(service: "sts"), type: .invalidSignature,
                  message: "Credential should be scoped to correct service: 'kms'."),
            .init(name: "wrong region", request: F.signed(region: "eu-west-1"), type: .invalidSignature,
                  message: "Credential should be scoped to a valid region, not 'eu-west-1'."),
            .init(name: "region that is not quoted back",
                  request: F.with("Credential=\(F.accessKeyID)/20250101/<script>/kms/aws4_request", h, s),
                  type: .invalidSignature, message: "Credential should be scoped to a valid region."),
            .init(name: "wrong terminator",
                  request: F.with("Credential=\(F.accessKeyID)/20250101/us-east-1/kms/aws4_request2", h, s),
                  type: .invalidSignature,
                  message: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_request2'."),
            .init(name: "scope date is not the X-Amz-Date day",
                  request: F.with("Credential=\(F.accessKeyID)/20241231/us-east-1/kms/aws4_request", h, s),
                  type: .invalidSignature,
                  message: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                      + "'20241231' != '20250101', from 'X-Amz-Date'."),
            .init(name: "scope date signed for another day",
                  request: F.signed().setting("X-Amz-Date", "20250102T000000Z"), now: sigV4Date("20250102T000000Z"),
                  type: .invalidSignature),

            // Signed headers.
            .init(name: "host not signed", request: F.with(c, "SignedHeaders=content-type;x-amz-date;x-amz-target", s),
                  type: .invalidSignature, message: "'Host' must be a 'SignedHeader' in the AWS Authorization."),
            .init(name: "x-amz-date not signed", request: F.with(c, "SignedHeaders=content-type;host;x-amz-target", s),
                  type: .invalidSignature, message: "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."),
            .init(name: "x-amz-target not signed", request: F.with(c, "SignedHeaders=content-type;host;x-amz-date", s),
                  type: .invalidSignature, message: "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."),
            .init(name: "content-type not signed", request: F.with(c, "SignedHeaders=host;x-amz-date;x-amz-target", s),
                  type: .invalidSignature, message: "'Content-Type' must be a 'SignedHeader' in the AWS Authorization."),
            // A valid signature over host;x-amz-date only, the operation set afterwards: the
            // attack of a DescribeKey turned into a DisableKey.
            .init(name: "signed over host and date only, target added after",
                  request: F.signed(SigV4Request(method: "POST", path: "/", headers: [.init("Host", "localhost:8080")],
                                                 body: F.unsigned.body))
                      .setting("Content-Type", "application/x-amz-json-1.1").setting("X-Amz-Target", "TrentService.DisableKey"),
                  type: .invalidSignature, message: "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."),

            // Headers that must appear once, repeated even when the signature covers both values.
            .init(name: "X-Amz-Target repeated and signed",
                  request: F.signed(F.unsigned.appending("X-Amz-Target", "TrentService.DisableKey")),
                  type: .incompleteSignature, message: "The request has more than one 'X-Amz-Target' header."),
            .init(name: "Content-Type repeated and signed",
                  request: F.signed(F.unsigned.appending("content-type", "text/plain")),
                  type: .incompleteSignature, message: "The request has more than one 'Content-Type' header."),
            .init(name: "Host repeated and signed", request: F.signed(F.unsigned.appending("HOST", "evil.example")),
                  type: .incompleteSignature, message: "The request has more than one 'Host' header."),

            .init(name: "missing signed header", request: F.valid.removing("X-Amz-Target"), type: .invalidSignature,
                  message: "Header 'x-amz-target' is in SignedHeaders but not in the request."),

            // Clock skew: AWS's exact texts.
            .init(name: "6 minutes late", request: F.valid, now: F.signedAt.addingTimeInterval(360),
                  type: .invalidSignature,
                  message: "Signature expired: 20250101T000000Z is now earlier than 20250101T000100Z "
                      + "(20250101T000600Z - 5 min.)"),
            .init(name: "6 minutes early", request: F.valid, now: F.signedAt.addingTimeInterval(-360),
                  type: .invalidSignature,
                  message: "Signature not yet current: 20250101T000000Z is still later than 20241231T235900Z "
                      + "(20241231T235400Z + 5 min.)"),
            .init(name: "5 minutes and 1 second late", request: F.valid, now: F.signedAt.addingTimeInterval(301),
                  type: .invalidSignature),
            .init(name: "5 minutes and 1 second early", request: F.valid, now: F.signedAt.addingTimeInterval(-301),
                  type: .invalidSignature),
            .init(name: "a day late", request: F.valid, now: F.signedAt.addingTimeInterval(86_400),
                  type: .invalidSignature),

            // Tampering.
            .init(name: "tampered body byte", request: {
                var request = F.valid
                request.body[9] ^= 0x01
                return request
            }(), type: .invalidSignature, message: mismatch),
            .init(name: "body with a byte more", request: {
                var request = F.valid
                request.body.append(UInt8(ascii: " "))
                return request
            }(), type: .invalidSignature, message: mismatch),
            .init(name: "tampered X-Amz-Target", request: F.valid.setting("X-Amz-Target", "TrentService.Decrypt"),
                  type: .invalidSignature, message: mismatch),
            .init(name: "tampered Host", request: F.valid.setting("Host", "evil.example:8080"),
                  type: .invalidSignature, message: mismatch),
            .init(name: "signed header repeated", request: F.valid.appending("Content-Type", "text/plain"),
                  type: .incompleteSignature, message: "The request has more than one 'Content-Type' header."),
            .init(name: "other signed header repeated", request: F.signed(F.unsigned.appending("X-Custom", "a"))
                      .appending("X-Custom", "b"),
                  type: .invalidSignature, message: mismatch),
            .init(name: "other method", request: {
                var request = F.valid
                request.method = "PUT"
                return request
            }(), type: .invalidSignature, message: mismatch),
            .init(name: "other path", request: {
                var request = F.valid
                request.path = "/kms"
                return request
            }(), type: .invalidSignature, message: mismatch),
            .init(name: "query string added", request: {
                var request = F.valid
                request.path = "/?Action=Decrypt"
                return request
            }(), type: .invalidSignature, message: mismatch),
            .init(name: "signature of another request",
                  request: F.valid.setting("Authorization", F.signed(F.unsigned.setting("X-Amz-Target", "TrentService.Decrypt"))
                      .firstValue(for: "Authorization")!),
                  type: .invalidSignature, message: mismatch),

            // Keys.
            .init(name: "wrong secret", request: F.valid, lookup: secrets([F.accessKeyID: F.secret + "x"]),
                  type: .invalidSignature, message: mismatch),
            .init(name: "secret differing in case", request: F.valid, lookup: secrets([F.accessKeyID: F.secret.lowercased()]),
                  type: .invalidSignature, message: mismatch),
            .init(name: "unknown access key", request: F.valid, lookup: secrets([:]), type: .unrecognizedClient,
                  message: "The security token included in the request is invalid."),
            .init(name: "session token, signed",
                  request: F.signed(credentials: SigV4Credentials(
                      accessKeyID: F.accessKeyID, secretAccessKey: F.credentials.secretAccessKey,
                      sessionToken: "FwoGZXIvYXdzEXAMPLE")),
                  type: .unrecognizedClient, message: "The security token included in the request is invalid."),
            .init(name: "session token, unsigned", request: F.valid.setting("X-Amz-Security-Token", "x"),
                  type: .unrecognizedClient),
            .init(name: "lookup fails", request: F.valid, lookup: { _ in throw CancellationError() },
                  type: .internalFailure),
            .init(name: "lookup throws a KMS error", request: F.valid,
                  lookup: { _ in throw KMSError(.throttling, "slow down") }, type: .throttling, message: "slow down"),
        ]
        cases.append(.init(name: "Date header not signed",
                           request: F.valid.removing("X-Amz-Date").setting("Date", "Wed, 01 Jan 2025 00:00:00 GMT"),
                           type: .invalidSignature,
                           message: "'Date' must be a 'SignedHeader' in the AWS Authorization."))
        return cases
    }()
}

@Suite("SigV4: verifier")
struct SigV4VerifierTests {
    typealias F = SigV4Fixture

    @Test func acceptsTheValidRequest() async throws {
        let identity = try await F.verifier.verify(F.valid, now: F.signedAt, secret: F.lookup)
        #expect(identity == .init(
            accessKeyID: F.accessKeyID, credentialScope: "20250101/us-east-1/kms/aws4_request", signedAt: F.signedAt))
    }

    @Test("rejects", arguments: SigV4Unhappy.all)
    func rejects(_ unhappy: SigV4Unhappy) async {
        let error = await verificationError(F.verifier, unhappy.request, now: unhappy.now, secret: unhappy.lookup)
        #expect(error?.type == unhappy.type, "\(String(describing: error))")
        if let message = unhappy.message {
            #expect(error?.message == message)
        }
    }

    static let validVariants: [(String, SigV4Request)] = [
        ("unsigned headers added", SigV4Request(
            method: "POST", path: "/",
            headers: F.valid.headers + [.init("User-Agent", "aws-cli/2"), .init("amz-sdk-request", "attempt=1"),
                                        .init("Content-Length", "41"), .init("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")],
            body: F.valid.body)),
        ("header names in other cases", SigV4Request(
            method: "POST", path: "/",
            headers: F.valid.headers.map { .init($0.name == "Authorization" ? $0.name : $0.name.uppercased(), $0.value) },
            body: F.valid.body)),
        ("signed values with extra white space",
         F.valid.setting("Content-Type", " \tapplication/x-amz-json-1.1  ").setting("X-Amz-Date", " 20250101T000000Z ")),
        ("no spaces after commas", F.with(authorization: "AWS4-HMAC-SHA256 \(F.credential),\(F.signedHeaders),\(F.signaturePart)")),
        ("runs of spaces and tabs", F.with(authorization:
            "  AWS4-HMAC-SHA256 \t \(F.credential) ,\t\(F.signedHeaders) ,  \(F.signaturePart) \t")),
        ("components in another order", F.with(F.signaturePart, F.credential, F.signedHeaders)),
        ("headers in another order", SigV4Request(
            method: "POST", path: "/", headers: F.valid.headers.reversed(), body: F.valid.body)),
    ]

    @Test("still valid", arguments: validVariants)
    func stillValid(name: String, request: SigV4Request) async throws {
        let identity = try await F.verifier.verify(request, now: F.signedAt, secret: F.lookup)
        #expect(identity.accessKeyID == F.accessKeyID)
    }

    @Test(arguments: [-300.0, -299.5, -240, -1, 0, 1, 240, 299.5, 300, 300.9])
    func acceptsWithinTheSkew(offset: Double) async throws {
        _ = try await F.verifier.verify(F.valid, now: F.signedAt.addingTimeInterval(offset), secret: F.lookup)
    }

    @Test func skewIsConfigurable() async throws {
        let lenient = SigV4Verifier(region: "us-east-1", allowedClockSkew: .seconds(900))
        _ = try await lenient.verify(F.valid, now: F.signedAt.addingTimeInterval(600), secret: F.lookup)
        let strict = SigV4Verifier(region: "us-east-1", allowedClockSkew: .seconds(90))
        let error = await verificationError(strict, F.valid, now: F.signedAt.addingTimeInterval(91), secret: F.lookup)
        #expect(error?.message
            == "Signature expired: 20250101T000000Z is now earlier than 20250101T000001Z (20250101T000131Z - 90 sec.)")
    }

    @Test func usesItsClock() async throws {
        let verifier = SigV4Verifier(region: "us-east-1", clock: { sigV4Date("20250101T000200Z") })
        _ = try await verifier.verify(F.valid, secret: F.lookup)
        let late = SigV4Verifier(region: "us-east-1", clock: { sigV4Date("20250101T001000Z") })
        await #expect(throws: KMSError.self) { try await late.verify(F.valid, secret: F.lookup) }
    }

    @Test func acceptsADateHeaderInsteadOfXAmzDate() async throws {
        // Signed by hand, as botocore does when the request carries a Date header (the botocore
        // vector "date-header" covers the RFC 2822 form with '-0000').
        let date = "Wed, 01 Jan 2025 00:00:00 GMT"
        var request = F.unsigned.setting("Date", date)
        let names = ["content-type", "date", "host", "x-amz-target"]
        let canonical = try SigV4Canonical.request(
            request, signedHeaderNames: names.map(utf8), signedHeaders: utf8("content-type;date;host;x-amz-target"),
            payloadHash: SigV4Canonical.payloadHash(request.body)).get()
        let scope = "20250101/us-east-1/kms/aws4_request"
        let stringToSign = SigV4Canonical.stringToSign(amzDate: "20250101T000000Z", scope: scope.utf8, canonicalRequest: canonical)
        let key = try SigV4SigningKey.derive(
            secret: SecureBytes(utf8: F.secret), date: "20250101", region: "us-east-1", service: "kms")
        request.setHeader("Authorization", "AWS4-HMAC-SHA256 Credential=\(F.accessKeyID)/\(scope), "
            + "SignedHeaders=content-type;date;host;x-amz-target, Signature=\(SHA256.hmacPublic(stringToSign, key: key).sigV4Hex)")
        let identity = try await F.verifier.verify(request, now: F.signedAt, secret: F.lookup)
        #expect(identity.signedAt == F.signedAt)
    }

    @Test func cachesOneSigningKeyPerAccessKeyAndDay() async throws {
        let verifier = SigV4Verifier(region: "us-east-1")
        for offset in [0.0, 60, 120] {
            let request = F.signed(at: F.signedAt.addingTimeInterval(offset))
            _ = try await verifier.verify(request, now: F.signedAt.addingTimeInterval(offset), secret: F.lookup)
        }
        #expect(verifier.cachedSigningKeyCount == 1)
        let nextDay = F.signedAt.addingTimeInterval(86_400)
        _ = try await verifier.verify(F.signed(at: nextDay), now: nextDay, secret: F.lookup)
        #expect(verifier.cachedSigningKeyCount == 2)
    }

    @Test func aRotatedSecretNeverVerifiesFromTheCache() async throws {
        let verifier = SigV4Verifier(region: "us-east-1")
        _ = try await verifier.verify(F.valid, now: F.signedAt, secret: F.lookup)
        #expect(verifier.cachedSigningKeyCount == 1)
        // The store now holds a new secret for the same key ID: the old signature must fail.
        let rotated = secrets([F.accessKeyID: "a-new-secret"])
        let error = await verificationError(verifier, F.valid, now: F.signedAt, secret: rotated)
        #expect(error == SigV4Failure.signatureMismatch)
        let newCredentials = try SigV4Credentials(accessKeyID: F.accessKeyID, secretAccessKey: "a-new-secret")
        _ = try await verifier.verify(F.signed(credentials: newCredentials), now: F.signedAt, secret: rotated)
        // And the old one, looked up again, is not served by the new entry.
        _ = try await verifier.verify(F.valid, now: F.signedAt, secret: F.lookup)
        let secondError = await verificationError(verifier, F.signed(credentials: newCredentials), now: F.signedAt, secret: F.lookup)
        #expect(secondError == SigV4Failure.signatureMismatch)
    }

    @Test func theCacheIsBounded() async throws {
        let verifier = SigV4Verifier(region: "us-east-1", signingKeyCacheCapacity: 3)
        var table: [String: String] = [:]
        for index in 0..<10 { table["AKIA\(index)"] = "secret-\(index)" }
        let lookup = secrets(table)
        for index in 0..<10 {
            let credentials = try SigV4Credentials(accessKeyID: "AKIA\(index)", secretAccessKey: "secret-\(index)")
            _ = try await verifier.verify(F.signed(credentials: credentials), now: F.signedAt, secret: lookup)
            #expect(verifier.cachedSigningKeyCount == min(index + 1, 3))
        }
        let uncached = SigV4Verifier(region: "us-east-1", signingKeyCacheCapacity: 0)
        _ = try await uncached.verify(F.valid, now: F.signedAt, secret: F.lookup)
        _ = try await uncached.verify(F.valid, now: F.signedAt, secret: F.lookup)
        #expect(uncached.cachedSigningKeyCount == 0)
    }

    @Test func verifiesConcurrently() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<50 {
                        let credentials = try SigV4Credentials(
                            accessKeyID: "AKIA\(index % 5)", secretAccessKey: "secret-\(index % 5)")
                        let at = F.signedAt.addingTimeInterval(Double(task))
                        _ = try await F.verifier.verify(
                            F.signed(at: at, credentials: credentials), now: at,
                            secret: secrets((0..<5).reduce(into: [:]) { $0["AKIA\($1)"] = "secret-\($1)" }))
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
