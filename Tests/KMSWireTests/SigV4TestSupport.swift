import Foundation
import SodiumKit
import Testing
import TestSupport
@testable import KMSWire

/// The AWS documentation's example key pair, also the SigV4 test suite's.
enum SigV4Example {
    static let accessKeyID = "AKIDEXAMPLE"
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
}

/// A `Date` from the ISO 8601 basic format (`20150830T123600Z`).
func sigV4Date(_ basic: String) -> Date {
    guard let timestamp = SigV4Timestamp(amzDate: basic) else { preconditionFailure("bad test date \(basic)") }
    return timestamp.date
}

/// A secret lookup over a fixed table, as the server's key store would answer.
func secrets(_ table: [String: String]) -> @Sendable (String) async throws -> SecureBytes? {
    let stored = table.mapValues { try! SecureBytes(utf8: $0) }
    return { stored[$0] }
}

/// The error a verification fails with, or `nil` when it succeeds.
func verificationError(
    _ verifier: SigV4Verifier, _ request: SigV4Request, now: Date,
    secret: (String) async throws -> SecureBytes?
) async -> KMSError? {
    do {
        _ = try await verifier.verify(request, now: now, secret: secret)
        return nil
    } catch {
        return error
    }
}

extension SigV4Request {
    /// A copy with every header of that name replaced by one line.
    func setting(_ name: String, _ value: String) -> SigV4Request {
        var copy = self
        copy.setHeader(name, value)
        return copy
    }

    /// A copy with one more header line at the end.
    func appending(_ name: String, _ value: String) -> SigV4Request {
        var copy = self
        copy.headers.append(.init(name, value))
        return copy
    }

    /// A copy without the headers of that name.
    func removing(_ name: String) -> SigV4Request {
        var copy = self
        copy.removeHeaders(named: name)
        return copy
    }
}

/// The UTF-8 bytes of a string, as the canonicalisation functions take names.
func utf8(_ text: String) -> ArraySlice<UInt8> { ArraySlice(text.utf8) }

extension SigV4Authorization {
    /// What a header says: key ID, scope, signed headers and signature.
    var parts: [String] { [text(accessKeyID), text(scope), text(signedHeaders), text(signature)] }
}

extension Array where Element == UInt8 {
    /// Lower-case hex, for comparing keys and signatures in tests.
    var sigV4Hex: String { map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
}
