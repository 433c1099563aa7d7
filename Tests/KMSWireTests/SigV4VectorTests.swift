import Foundation
import SodiumKit
import Testing
@testable import KMSWire

/// KMS requests signed by botocore itself (`scripts/make-sigv4-vectors.py` writes
/// `Vectors/sigv4.json`): boto3 clients signing Encrypt, Decrypt and ListKeys, with and without a
/// session token, and hand-built requests signed with `SigV4Auth` for what other SDKs send.
@Suite("SigV4: botocore vectors")
struct SigV4VectorTests {
    struct Vector: Decodable, Sendable, CustomTestStringConvertible {
        let name: String
        let access_key_id: String
        let secret_access_key: String
        let session_token: String?
        let region: String
        let service: String
        let amz_date: String
        let method: String
        let path: String
        let signer_headers: [[String]]
        let headers: [[String]]
        let body_base64: String
        let canonical_request: String
        let string_to_sign: String
        let authorization: String
        let expect: String
        let swift_signs: Bool
        var testDescription: String { name }

        var body: [UInt8] { [UInt8](Data(base64Encoded: body_base64)!) }

        func request(_ headers: [[String]]) -> SigV4Request {
            SigV4Request(method: method, path: path, headers: headers.map { .init($0[0], $0[1]) }, body: body)
        }

        var credentials: SigV4Credentials {
            try! SigV4Credentials(
                accessKeyID: access_key_id, secretAccessKey: secret_access_key, sessionToken: session_token)
        }
    }

    static let vectors: [Vector] = {
        guard let url = Bundle.module.url(forResource: "sigv4", withExtension: "json", subdirectory: "Vectors"),
              let data = try? Data(contentsOf: url)
        else { return [] }
        return (try? JSONDecoder().decode([Vector].self, from: data)) ?? []
    }()

    @Test func vectorFileIsThere() {
        #expect(Self.vectors.count >= 10)
        #expect(Self.vectors.contains { $0.session_token != nil })
        #expect(Self.vectors.contains { !$0.swift_signs })
    }

    @Test("verifies as botocore signed it", arguments: vectors)
    func verifies(_ vector: Vector) async throws {
        let verifier = SigV4Verifier(region: vector.region, service: vector.service)
        // A request that took 30 seconds to arrive.
        let now = sigV4Date(vector.amz_date).addingTimeInterval(30)
        let lookup = secrets([vector.access_key_id: vector.secret_access_key])
        let request = vector.request(vector.headers)
        if vector.expect == "valid" {
            let identity = try await verifier.verify(request, now: now, secret: lookup)
            #expect(identity.accessKeyID == vector.access_key_id)
            #expect(identity.credentialScope == "\(vector.amz_date.prefix(8))/\(vector.region)/kms/aws4_request")
        } else {
            let error = await verificationError(verifier, request, now: now, secret: lookup)
            #expect(error?.type.rawValue == vector.expect)
        }
    }

    @Test("builds botocore's canonical request and string to sign", arguments: vectors)
    func canonicalRequest(_ vector: Vector) throws {
        let request = vector.request(vector.headers)
        let authorization = try SigV4Authorization(
            parsing: try #require(request.firstValue(for: "Authorization")), hasDateHeader: true)
        let canonical = try SigV4Canonical.request(
            request, signedHeaderNames: authorization.signedHeaderNames.map { authorization[$0] },
            signedHeaders: authorization[authorization.signedHeaders],
            payloadHash: SigV4Canonical.payloadHash(vector.body)).get()
        #expect(String(decoding: canonical, as: UTF8.self) == vector.canonical_request)
        let requestDate = request.firstValue(for: "X-Amz-Date") ?? vector.amz_date
        let stringToSign = SigV4Canonical.stringToSign(
            amzDate: requestDate, scope: authorization[authorization.scope], canonicalRequest: canonical)
        #expect(String(decoding: stringToSign, as: UTF8.self) == vector.string_to_sign)
    }

    @Test("signs to botocore's Authorization", arguments: vectors.filter(\.swift_signs))
    func signs(_ vector: Vector) throws {
        let signed = try SigV4Signer(region: vector.region, service: vector.service)
            .sign(vector.request(vector.signer_headers), credentials: vector.credentials, date: sigV4Date(vector.amz_date))
        #expect(signed.values(for: "Authorization") == [vector.authorization])
        #expect(signed.values(for: "X-Amz-Date") == [vector.amz_date])
        #expect(signed.values(for: "X-Amz-Security-Token") == (vector.session_token.map { [$0] } ?? []))
        // What the Swift signer produces is exactly what went on the wire, minus what botocore adds
        // after signing.
        let afterSigning: Set<String> = ["content-length", "amz-sdk-invocation-id", "amz-sdk-request"]
        let wire = vector.headers.filter { !afterSigning.contains($0[0].lowercased()) }
        #expect(signed.headers.map { [$0.name, $0.value] } == wire)
    }

    /// The body is hashed as received: a client that signs `UNSIGNED-PAYLOAD` (botocore does, when
    /// an `X-Amz-Content-SHA256` header says so) is refused, so the body cannot be swapped.
    @Test func neverTrustsXAmzContentSHA256() async throws {
        let vector = try #require(Self.vectors.first { $0.name == "list-keys" })
        var request = vector.request(vector.signer_headers).setting("X-Amz-Date", vector.amz_date)
        request.setHeader("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")
        let names = ["content-type", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-target"]
        let signedHeaders = names.joined(separator: ";")
        let canonical = try SigV4Canonical.request(
            request, signedHeaderNames: names.map(utf8), signedHeaders: utf8(signedHeaders),
            payloadHash: Array("UNSIGNED-PAYLOAD".utf8)).get()
        let scope = "\(vector.amz_date.prefix(8))/us-east-1/kms/aws4_request"
        let stringToSign = SigV4Canonical.stringToSign(amzDate: vector.amz_date, scope: scope.utf8, canonicalRequest: canonical)
        let key = try SigV4SigningKey.derive(
            secret: SecureBytes(utf8: vector.secret_access_key), date: vector.amz_date.prefix(8),
            region: "us-east-1", service: "kms")
        let signature = SHA256.hmacPublic(stringToSign, key: key).sigV4Hex
        request.setHeader(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=\(vector.access_key_id)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)")
        request.body = Array(#"{"Limit":1000}"#.utf8)
        let error = await verificationError(
            SigV4Verifier(region: "us-east-1"), request, now: sigV4Date(vector.amz_date),
            secret: secrets([vector.access_key_id: vector.secret_access_key]))
        #expect(error == SigV4Failure.signatureMismatch)
    }
}
