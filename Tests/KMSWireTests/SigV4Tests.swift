import Foundation
import SodiumKit
import Testing
@testable import KMSWire

/// Cases of the AWS SigV4 test suite (`aws-sig-v4-test-suite`, 2015 edition: AKIDEXAMPLE,
/// 20150830T123600Z, us-east-1, service `service`), reconstructed from the suite's requests. Every
/// expected signature was also reproduced with botocore 1.43's `SigV4Auth` (get-vanilla and
/// post-vanilla are checked again each time `scripts/make-sigv4-vectors.py` runs).
@Suite("SigV4: AWS test suite")
struct SigV4SuiteTests {
    struct SuiteCase: Sendable, CustomTestStringConvertible {
        let name: String
        let method: String
        let path: String
        let headers: [SigV4Request.Header]
        let body: String
        let signedHeaders: String
        let signature: String
        var testDescription: String { name }

        var request: SigV4Request {
            SigV4Request(
                method: method, path: path,
                headers: [.init("Host", "example.amazonaws.com")] + headers,
                body: Array(body.utf8))
        }

        var authorization: String {
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
        }
    }

    static let vanilla = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    static let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

    static let cases: [SuiteCase] = [
        SuiteCase(name: "get-vanilla", method: "GET", path: "/", headers: [], body: "",
                  signedHeaders: "host;x-amz-date", signature: vanilla),
        SuiteCase(name: "post-vanilla", method: "POST", path: "/", headers: [], body: "",
                  signedHeaders: "host;x-amz-date",
                  signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
        SuiteCase(name: "get-vanilla-query-order-key-case", method: "GET", path: "/?Param2=value2&Param1=value1",
                  headers: [], body: "", signedHeaders: "host;x-amz-date",
                  signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        SuiteCase(name: "get-vanilla-query-unreserved", method: "GET", path: "/?\(unreserved)=\(unreserved)",
                  headers: [], body: "", signedHeaders: "host;x-amz-date",
                  signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
        SuiteCase(name: "get-header-value-trim", method: "GET", path: "/",
                  headers: [.init("My-Header1", " value1"), .init("My-Header2", " \"a   b   c\"")], body: "",
                  signedHeaders: "host;my-header1;my-header2;x-amz-date",
                  signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
        SuiteCase(name: "post-header-key-sort", method: "POST", path: "/",
                  headers: [.init("My-Header1", "value1")], body: "",
                  signedHeaders: "host;my-header1;x-amz-date",
                  signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"),
        SuiteCase(name: "post-header-value-case", method: "POST", path: "/",
                  headers: [.init("My-Header1", "VALUE1")], body: "",
                  signedHeaders: "host;my-header1;x-amz-date",
                  signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
        SuiteCase(name: "post-x-www-form-urlencoded", method: "POST", path: "/",
                  headers: [.init("Content-Type", "application/x-www-form-urlencoded")], body: "Param1=value1",
                  signedHeaders: "content-type;host;x-amz-date",
                  signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
        SuiteCase(name: "normalize-path/get-slash-dot-slash", method: "GET", path: "/./", headers: [], body: "",
                  signedHeaders: "host;x-amz-date", signature: vanilla),
        SuiteCase(name: "normalize-path/get-relative-relative", method: "GET", path: "/example1/example2/../..",
                  headers: [], body: "", signedHeaders: "host;x-amz-date", signature: vanilla),
        SuiteCase(name: "normalize-path/get-slashes", method: "GET", path: "//example//", headers: [], body: "",
                  signedHeaders: "host;x-amz-date",
                  signature: "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"),
    ]

    static let date = sigV4Date("20150830T123600Z")

    @Test("verifies", arguments: cases)
    func verifies(_ suiteCase: SuiteCase) async throws {
        // The suite's requests are not KMS's: they carry no X-Amz-Target to require.
        let verifier = SigV4Verifier(region: "us-east-1", service: "service", requiredSignedHeaders: [])
        let request = suiteCase.request
            .setting("X-Amz-Date", "20150830T123600Z")
            .setting("Authorization", suiteCase.authorization)
        let identity = try await verifier.verify(
            request, now: Self.date, secret: secrets([SigV4Example.accessKeyID: SigV4Example.secret]))
        #expect(identity.accessKeyID == "AKIDEXAMPLE")
        #expect(identity.credentialScope == "20150830/us-east-1/service/aws4_request")
        #expect(identity.signedAt == Self.date)
    }

    @Test("signs to the same Authorization", arguments: cases)
    func signs(_ suiteCase: SuiteCase) throws {
        let credentials = try SigV4Credentials(
            accessKeyID: SigV4Example.accessKeyID, secretAccessKey: SigV4Example.secret)
        let signed = try SigV4Signer(region: "us-east-1", service: "service")
            .sign(suiteCase.request, credentials: credentials, date: Self.date)
        #expect(signed.firstValue(for: "Authorization") == suiteCase.authorization)
        #expect(signed.values(for: "X-Amz-Date") == ["20150830T123600Z"])
    }

    /// The suite's get-vanilla, step by step (its .creq and .sts files).
    @Test func vanillaIntermediates() throws {
        let request = SigV4Request(
            method: "GET", path: "/",
            headers: [.init("Host", "example.amazonaws.com"), .init("X-Amz-Date", "20150830T123600Z")])
        let canonical = try SigV4Canonical.request(
            request, signedHeaderNames: [utf8("host"), utf8("x-amz-date")], signedHeaders: utf8("host;x-amz-date"),
            payloadHash: SigV4Canonical.payloadHash([])).get()
        #expect(String(decoding: canonical, as: UTF8.self) == """
            GET
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        let stringToSign = SigV4Canonical.stringToSign(
            amzDate: "20150830T123600Z", scope: "20150830/us-east-1/service/aws4_request".utf8, canonicalRequest: canonical)
        #expect(String(decoding: stringToSign, as: UTF8.self) == """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
            """)
        let key = try SigV4SigningKey.derive(
            secret: SecureBytes(utf8: SigV4Example.secret), date: "20150830", region: "us-east-1", service: "service")
        #expect(SHA256.hmacPublic(stringToSign, key: key).sigV4Hex == Self.vanilla)
    }
}

@Suite("SigV4: canonical forms")
struct SigV4CanonicalTests {
    static func uri(_ path: String) -> String {
        var out: [UInt8] = []
        SigV4Canonical.appendURI(ArraySlice(path.utf8), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func query(_ query: String) -> String {
        var out: [UInt8] = []
        SigV4Canonical.appendQuery(ArraySlice(query.utf8), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// botocore's `_normalize_url_path` (remove_dot_segments, then quote with safe='/~').
    @Test(arguments: [
        ("/", "/"), ("", "/"), ("//", "/"), ("/./", "/"), ("/..", "/"), ("/a/../..", "/"),
        ("/a/./b/../c//d%20e/", "/a/c/d%2520e/"), ("/example1/example2/../..", "/"), ("//example//", "/example/"),
        ("a/b", "a/b"), ("/\u{1234}", "/%E1%88%B4"), ("/~a-b_c.d", "/~a-b_c.d"), ("/a+b=c", "/a%2Bb%3Dc"),
    ])
    func canonicalURI(path: String, expected: String) {
        #expect(Self.uri(path) == expected)
    }

    @Test(arguments: [
        ("", ""), ("a=1", "a=1"), ("b=2&a=1&a=0", "a=0&a=1&b=2"), ("d", "d="), ("d=", "d="),
        ("%7e=%7E", "~=~"), ("c=x%20~y", "c=x%20~y"), ("a=1&&b=2", "a=1&b=2"), ("+=%2b", "%2B=%2B"),
        ("%zz=1", "%25zz=1"), ("%=%4", "%25=%254"), ("a=b=c", "a=b%3Dc"), ("Param2=value2&Param1=value1", "Param1=value1&Param2=value2"),
        ("%C3%A4=&a=1", "%C3%A4=&a=1"), ("\u{E4}=1", "%C3%A4=1"), ("B=1&a=1", "B=1&a=1"),
    ])
    func canonicalQuery(query: String, expected: String) {
        #expect(Self.query(query) == expected)
    }

    @Test func headerValuesTrimmedAndJoined() throws {
        let request = SigV4Request(method: "POST", path: "/", headers: [
            .init("X-A", "  one \t  two  "), .init("Host", "h"), .init("x-a", "three"), .init("X-B", ""),
        ])
        let canonical = try SigV4Canonical.request(
            request, signedHeaderNames: ["host", "x-a", "x-b"].map(utf8), signedHeaders: utf8("host;x-a;x-b"),
            payloadHash: []).get()
        #expect(String(decoding: canonical, as: UTF8.self) == "POST\n/\n\nhost:h\nx-a:one two,three\nx-b:\n\nhost;x-a;x-b\n")
    }
}

@Suite("SigV4: timestamps")
struct SigV4TimestampTests {
    @Test(arguments: [
        ("19700101T000000Z", 0 as Int64), ("20150830T123600Z", 1_440_938_160), ("20240229T235959Z", 1_709_251_199),
        ("20000301T000000Z", 951_868_800), ("19691231T235959Z", -1), ("99991231T235959Z", 253_402_300_799),
    ])
    func parsesAndPrints(text: String, seconds: Int64) throws {
        let timestamp = try #require(SigV4Timestamp(amzDate: text))
        #expect(timestamp.secondsSince1970 == seconds)
        #expect(timestamp.amzDate == text)
    }

    @Test(arguments: [
        "", "2015083T123600Z", "20150830T123600", "20150830 123600Z", "2015-08-30T12:36:00Z", "20150830T123600z",
        "20150230T000000Z", "20230229T000000Z", "20150830T240000Z", "20150830T126000Z", "20150830T123660Z",
        "20151330T000000Z", "20150001T000000Z", "20150800T000000Z", "2015083OT123600Z", "+0150830T123600Z",
        "２0150830T123600Z",
    ])
    func rejects(text: String) {
        #expect(SigV4Timestamp(amzDate: text) == nil)
    }

    @Test(arguments: [
        "Sun, 30 Aug 2015 12:36:00 GMT", "Sun, 30 Aug 2015 12:36:00 UTC", "Sun, 30 Aug 2015 12:36:00 -0000",
        "Sun, 30 Aug 2015 12:36:00 +0000", "20150830T123600Z",
    ])
    func parsesHTTPDates(text: String) throws {
        #expect(try #require(SigV4Timestamp(httpDate: text)).amzDate == "20150830T123600Z")
    }

    @Test(arguments: [
        "Sun, 30 Aug 2015 12:36:00 CET", "Sun, 30 Aug 2015 12:36:00 +0100", "Sunday, 30-Aug-15 12:36:00 GMT",
        "Sun Aug 30 12:36:00 2015", "Xyz, 30 Aug 2015 12:36:00 GMT", "Sun, 31 Sep 2015 12:36:00 GMT",
        "Sun, 30 Aug 2015 12:36:00", "Sun, 30 Aug 2015 12:36:00 GMTX",
    ])
    func rejectsHTTPDates(text: String) {
        #expect(SigV4Timestamp(httpDate: text) == nil)
    }

    @Test func roundTripsEveryDayOfFourCenturies() {
        // 1900-03-01 .. 2300-03-01 covers every leap-year rule.
        var seconds = Int64(-2_203_891_200)
        while seconds < 10_426_204_800 {
            let timestamp = SigV4Timestamp(secondsSince1970: seconds + 45_296)
            #expect(SigV4Timestamp(amzDate: timestamp.amzDate) == timestamp)
            seconds += 86_400
        }
    }

    @Test func datesAreTruncatedToTheSecond() throws {
        let timestamp = try #require(SigV4Timestamp(Date(timeIntervalSince1970: 1_440_938_160.999)))
        #expect(timestamp.amzDate == "20150830T123600Z")
        #expect(try #require(SigV4Timestamp(Date(timeIntervalSince1970: -0.5))).amzDate == "19691231T235959Z")
        #expect(SigV4Timestamp(Date(timeIntervalSince1970: 1e12)) == nil)
    }
}

@Suite("SigV4: signer and credentials")
struct SigV4SignerTests {
    static let credentials = try! SigV4Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: SigV4Example.secret)
    static let request = SigV4Request(
        method: "POST", path: "/",
        headers: [.init("Host", "localhost:8080"), .init("Content-Type", "application/x-amz-json-1.1"),
                  .init("X-Amz-Target", "TrentService.ListKeys"), .init("User-Agent", "envseal/1.0")],
        body: Array("{}".utf8))

    @Test func signsWhatBotocoreSignsForKMS() throws {
        let signed = try SigV4Signer(region: "us-east-1").sign(
            Self.request, credentials: Self.credentials, date: sigV4Date("20150830T123600Z"))
        let authorization = try #require(signed.firstValue(for: "Authorization"))
        #expect(authorization.hasPrefix(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, "
                + "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="))
        #expect(signed.headers.map(\.name) == [
            "Host", "Content-Type", "X-Amz-Target", "User-Agent", "X-Amz-Date", "Authorization",
        ])
        #expect(signed.firstValue(for: "X-Amz-Security-Token") == nil)
        #expect(signed.firstValue(for: "X-Amz-Content-SHA256") == nil)
    }

    @Test func addsAndSignsTheSessionToken() throws {
        let credentials = SigV4Credentials(
            accessKeyID: "AKIDEXAMPLE", secretAccessKey: Self.credentials.secretAccessKey, sessionToken: "token/1")
        let signed = try SigV4Signer(region: "us-east-1").sign(
            Self.request.setting("X-Amz-Security-Token", "stale"), credentials: credentials, date: Date())
        #expect(signed.values(for: "X-Amz-Security-Token") == ["token/1"])
        #expect(try #require(signed.firstValue(for: "Authorization"))
            .contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,"))
    }

    @Test func resigningReplacesTheOldSignature() throws {
        let signer = SigV4Signer(region: "us-east-1")
        let first = try signer.sign(Self.request, credentials: Self.credentials, date: sigV4Date("20150830T123600Z"))
        let second = try signer.sign(first, credentials: Self.credentials, date: sigV4Date("20150830T123700Z"))
        #expect(second.values(for: "Authorization").count == 1)
        #expect(second.values(for: "X-Amz-Date") == ["20150830T123700Z"])
        let fresh = try signer.sign(Self.request, credentials: Self.credentials, date: sigV4Date("20150830T123700Z"))
        #expect(second.firstValue(for: "Authorization") == fresh.firstValue(for: "Authorization"))
    }

    @Test func needsAHost() {
        #expect(throws: SigV4Signer.SigningError.missingHost) {
            try SigV4Signer(region: "us-east-1").sign(
                Self.request.removing("host"), credentials: Self.credentials, date: Date())
        }
        #expect(throws: SigV4Signer.SigningError.dateOutOfRange) {
            try SigV4Signer(region: "us-east-1").sign(
                Self.request, credentials: Self.credentials, date: Date(timeIntervalSince1970: 1e13))
        }
    }

    @Test func credentialsNeverShowTheSecret() {
        let credentials = SigV4Credentials(
            accessKeyID: "AKIDEXAMPLE", secretAccessKey: Self.credentials.secretAccessKey, sessionToken: "session-secret")
        var dumped = ""
        dump(credentials, to: &dumped)
        for text in [credentials.description, credentials.debugDescription, String(describing: credentials),
                     String(reflecting: credentials), "\(credentials)", dumped] {
            #expect(text.contains("AKIDEXAMPLE"))
            #expect(!text.contains(SigV4Example.secret))
            #expect(!text.contains("session-secret"))
        }
    }

    @Test func requestHeaderHelpers() {
        var request = SigV4Request(method: "POST", path: "/", headers: [
            .init("X-A", "1"), .init("x-a", "2"), .init("Host", "h"),
        ], body: Data("{}".utf8))
        #expect(request.body == Array("{}".utf8))
        #expect(request.values(for: "X-a") == ["1", "2"])
        #expect(request.firstValue(for: "HOST") == "h")
        request.setHeader("X-A", "3")
        #expect(request.headers == [.init("Host", "h"), .init("X-A", "3")])
        request.removeHeaders(named: "host")
        #expect(request.firstValue(for: "Host") == nil)
    }
}
