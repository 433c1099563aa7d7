import Foundation
import SodiumKit
@testable import EnvSealFormat

extension Array where Element == UInt8 {
    init(hex: String) {
        let chars = Array(hex.utf8)
        precondition(chars.count % 2 == 0, "odd hex length")
        self = stride(from: 0, to: chars.count, by: 2).map { i in
            UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16)!
        }
    }

    var hex: String { map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
}

/// Loads a vector file from the test bundle.
func loadVectors<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Vectors") else {
        throw VectorError("vector file \(name).json is missing")
    }
    return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
}

struct VectorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The vector outcome name for an error (docs/FORMAT.md, section 5).
func outcome(of error: FormatError) -> String {
    switch error.kind {
    case .truncated: "truncated"
    case .unknownVersion: "unknown version"
    case .invalidField: "invalid field"
    case .trailingBytes: "trailing bytes"
    case .invalidBase64: "invalid base64"
    case .invalidContext: "invalid context"
    case .authenticationFailed, .valueNotAuthentic: "authentication failure"
    case .missingVariable: "missing variable"
    case .unlistedVariable: "unlisted variable"
    case .changedVariable: "changed variable"
    case .headerMACMismatch: "header mac mismatch"
    }
}

/// The variable an error names, if any.
func variable(of error: FormatError) -> String? {
    switch error.kind {
    case .missingVariable(let name), .unlistedVariable(let name), .changedVariable(let name), .valueNotAuthentic(let name): name
    default: nil
    }
}

/// Outcomes that are authentication failures with a known cause.
let authenticationOutcomes: Set<String> = ["authentication failure", "wrong key", "context mismatch"]

func context(_ pairs: [[String]]) throws -> EncryptionContext {
    try EncryptionContext(pairs: pairs.map { (key: $0[0], value: $0[1]) })
}

func key<K: SymmetricKey>(_ hex: String, as type: K.Type = K.self) throws -> K {
    try K(secureBytes: SecureBytes(copying: [UInt8](hex: hex)))
}

/// A deterministic generator (SeededGenerator), so property failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SeededGenerator {
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) } }

    /// A random mutation of `input`: flip, insert, delete, truncate, or duplicate a slice.
    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var out = input
        switch Int.random(in: 0..<5, using: &self) {
        case 0 where !out.isEmpty:
            let i = Int.random(in: 0..<out.count, using: &self)
            out[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &self))
        case 1:
            out.insert(UInt8.random(in: 0...255, using: &self), at: Int.random(in: 0...out.count, using: &self))
        case 2 where !out.isEmpty:
            out.remove(at: Int.random(in: 0..<out.count, using: &self))
        case 3:
            out = Array(out.prefix(Int.random(in: 0...out.count, using: &self)))
        default:
            if !out.isEmpty {
                let a = Int.random(in: 0..<out.count, using: &self)
                let b = Int.random(in: a...min(out.count, a + 8), using: &self)
                out.insert(contentsOf: out[a..<b], at: Int.random(in: 0...out.count, using: &self))
            }
        }
        return out
    }
}
