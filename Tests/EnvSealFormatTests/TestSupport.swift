import Foundation
import SodiumKit
import TestSupport
@testable import EnvSealFormat

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
    switch error.reason {
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
    switch error.reason {
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

/// The UTF-8 bytes of `text`.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The error parsing `text` as a dotenv file throws, or `nil` when it parses.
func parseError(_ text: String) -> DotenvError? {
    parseError(bytes(text))
}

/// The error parsing `input` as a dotenv file throws, or `nil` when it parses.
func parseError(_ input: [UInt8]) -> DotenvError? {
    do {
        _ = try DotenvFile.parse(input)
        return nil
    } catch {
        return error
    }
}
