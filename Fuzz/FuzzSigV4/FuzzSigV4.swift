// Fuzzes SigV4: the `Authorization` header parser, the verifier, and sign-then-verify.
//
// The input is an HTTP/1.1-shaped request: a first line `METHOD PATH`, header lines `Name: value`
// up to an empty line, then the body. Every `Authorization` value is parsed on its own; the request
// is verified as received; and, when its header names are tokens, it is signed and must then
// verify. Parsing and verification throw KMSErrors only, never trap.
import Dispatch
import Foundation
import FuzzSupport
@testable import KMSWire
import SodiumKit

@_cdecl("FuzzSigV4_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}

/// The credentials of Tests/KMSWireTests/Vectors/sigv4.json (AWS's documented example key).
let accessKeyID = "AKIDEXAMPLE"
let secretText = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
let secret: SecureBytes = {
    do { return try SecureBytes(utf8: secretText) } catch { fatalError("fuzz secret: \(error)") }
}()
let credentials: SigV4Credentials = {
    do { return try SigV4Credentials(accessKeyID: accessKeyID, secretAccessKey: secretText) } catch { fatalError("fuzz credentials: \(error)") }
}()
/// 20150830T123600Z, the date of most vectors.
let now = Date(timeIntervalSince1970: 1_440_938_160)
let strictVerifier = SigV4Verifier(region: "us-east-1", signingKeyCacheCapacity: 4)
/// Accepts any request time in 100 years either way, so that every vector reaches the signature check.
let lenientVerifier = SigV4Verifier(region: "us-east-1", allowedClockSkew: .seconds(3_155_760_000), signingKeyCacheCapacity: 4)
let signer = SigV4Signer(region: "us-east-1")

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let request = makeRequest(inputBytes(data, size))
    for header in request.headers {
        let name = header.name.lowercased()
        if name == "authorization" {
            for hasDate in [true, false] {
                guard let parsed = try? SigV4Authorization(parsing: header.value, hasDateHeader: hasDate) else { continue }
                check(hasDate, "parsed without a date header")
                check(parsed.signature.count == 64 && parsed.signedHeaderNames.allSatisfy { !$0.isEmpty },
                      "a parsed Authorization has a malformed signature or signed header")
            }
        } else if name == "x-amz-date" {
            _ = SigV4Timestamp(amzDate: header.value)
        } else if name == "date" {
            _ = SigV4Timestamp(httpDate: header.value)
        }
    }
    let signed = signableCopy(of: request).flatMap { try? signer.sign($0, credentials: credentials, date: now) }
    let failure = runBlocking { () async -> String? in
        let lookup: (String) async throws -> SecureBytes? = { $0 == accessKeyID ? secret : nil }
        _ = try? await strictVerifier.verify(request, now: now, secret: lookup)
        _ = try? await lenientVerifier.verify(request, now: now, secret: lookup)
        guard let signed else { return nil }
        do {
            let identity = try await strictVerifier.verify(signed, now: now, secret: lookup)
            return identity.accessKeyID == accessKeyID ? nil : "verified as another access key"
        } catch {
            return "a request the signer signed does not verify: \(error)"
        }
    }
    if let failure { fatalError("property violated: \(failure)") }
    return 0
}

/// The request the input describes.
func makeRequest(_ input: [UInt8]) -> SigV4Request {
    let newline = UInt8(ascii: "\n")
    var headEnd = input.count
    var bodyStart = input.count
    if let blank = input.indices.dropLast().first(where: { input[$0] == newline && input[$0 + 1] == newline }) {
        headEnd = blank
        bodyStart = blank + 2
    }
    let lines = input[..<headEnd].split(separator: newline, omittingEmptySubsequences: false)
        .map { String(decoding: $0, as: UTF8.self) }
    let requestLine = lines.first ?? ""
    let method: String
    let path: String
    if let space = requestLine.firstIndex(of: " ") {
        method = String(requestLine[..<space])
        path = String(requestLine[requestLine.index(after: space)...])
    } else {
        method = requestLine
        path = "/"
    }
    let headers = lines.dropFirst().map { line -> SigV4Request.Header in
        guard let colon = line.firstIndex(of: ":") else { return .init(line, "") }
        let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
        return .init(String(line[..<colon]), String(value))
    }
    return SigV4Request(method: method, path: path, headers: headers, body: Array(input[bodyStart...]))
}

/// The request with a `Host`, `X-Amz-Target` and `Content-Type` if it had none (the verifier
/// requires all three signed, as KMS does), or `nil` when a header name is not an HTTP token (an
/// HTTP server would refuse it, and SignedHeaders could not list it) or when one of those three is
/// repeated (refused whatever the signature covers). The signer sets `Authorization` and
/// `X-Amz-Date` itself.
func signableCopy(of request: SigV4Request) -> SigV4Request? {
    for name in ["host", "x-amz-target", "content-type"] where request.headers.filter({ $0.name.lowercased() == name }).count > 1 {
        return nil
    }
    let tokenPunctuation = Set("!#$%&'*+-.^_`|~".utf8)
    for header in request.headers {
        let name = Array(header.name.utf8)
        guard !name.isEmpty, name.allSatisfy({ $0 < 0x80 && (tokenPunctuation.contains($0) || ($0 >= 0x30 && $0 <= 0x39)
            || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A)) }) else { return nil }
    }
    var copy = request
    if copy.firstValue(for: "Host") == nil { copy.headers.append(.init("Host", "localhost:8080")) }
    if copy.firstValue(for: "X-Amz-Target") == nil { copy.headers.append(.init("X-Amz-Target", "TrentService.Decrypt")) }
    if copy.firstValue(for: "Content-Type") == nil { copy.headers.append(.init("Content-Type", "application/x-amz-json-1.1")) }
    return copy
}

/// The result of an async run, handed from the task to the waiting thread.
final class ResultBox<T>: @unchecked Sendable {
    // Written once by the task before it signals, read once after the wait.
    var value: T?
    let done = DispatchSemaphore(value: 0)
}

/// Runs async code to completion from libFuzzer's synchronous callback.
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = ResultBox<T>()
    Task {
        box.value = await body()
        box.done.signal()
    }
    box.done.wait()
    return box.value!
}
