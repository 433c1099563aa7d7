/// An error reading or checking one of envseal's formats.
///
/// The description says what was wrong and where (which field, which variable) and never
/// includes the bytes of a value or a key.
public struct FormatError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, with the field or variable it concerns: the package's own view, which
    /// code that needs the payload switches over. Users see ``kind``, ``field`` and ``variable``.
    package enum Reason: Sendable, Equatable {
        /// The input ended inside `field`.
        case truncated(field: String)
        /// The version byte is not one this code reads.
        case unknownVersion(UInt8)
        /// `field` has a value this format does not allow.
        case invalidField(field: String, reason: String)
        /// Bytes follow the end of a complete structure.
        case trailingBytes(count: Int)
        /// Text that should be base64url is not (or is not in canonical form).
        case invalidBase64(field: String)
        /// An encryption context is empty-keyed, too large, or not in canonical order.
        case invalidContext(reason: String)
        /// A sealed value or ciphertext did not authenticate: wrong key, wrong context, wrong
        /// variable name, or a changed byte.
        case authenticationFailed(what: String)
        /// A sealed value did not open under its variable's name: moved from another variable or
        /// file, or a changed character.
        case valueNotAuthentic(name: String)
        /// A sealed variable listed in the header is missing from the file.
        case missingVariable(name: String)
        /// A variable is sealed in the file (or, in a sealed file, any variable) but not listed
        /// in the header: added, or pasted from another file.
        case unlistedVariable(name: String)
        /// A variable's value differs from the one the header's MAC covers: edited, replaced by an
        /// older sealed value, or a covered plain variable changed.
        case changedVariable(name: String)
        /// The header's MAC does not match though every variable looks right: the header itself
        /// was edited.
        case headerMACMismatch
    }

    /// What went wrong, with its payload.
    package let reason: Reason

    package init(_ reason: Reason) { self.reason = reason }

    /// The kind of failure, as a value a new kind can be added to without breaking a `switch`.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        /// A stable name of the kind (`"truncated"`, `"headerMACMismatch"`).
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The input ended inside a field (``FormatError/field`` names it).
        public static let truncated = Kind("truncated")
        /// The version byte is not one this code reads.
        public static let unknownVersion = Kind("unknownVersion")
        /// A field has a value the format does not allow.
        public static let invalidField = Kind("invalidField")
        /// Bytes follow the end of a complete structure.
        public static let trailingBytes = Kind("trailingBytes")
        /// Text that should be base64url is not (or not in canonical form).
        public static let invalidBase64 = Kind("invalidBase64")
        /// An encryption context is empty-keyed, too large, or not in canonical order.
        public static let invalidContext = Kind("invalidContext")
        /// A sealed value or ciphertext did not authenticate.
        public static let authenticationFailed = Kind("authenticationFailed")
        /// A sealed value did not open under its variable's name.
        public static let valueNotAuthentic = Kind("valueNotAuthentic")
        /// A sealed variable listed in the header is missing from the file.
        public static let missingVariable = Kind("missingVariable")
        /// A variable is in the file but not listed in the header.
        public static let unlistedVariable = Kind("unlistedVariable")
        /// A variable's value differs from the one the header's MAC covers.
        public static let changedVariable = Kind("changedVariable")
        /// The header's MAC does not match though every variable looks right.
        public static let headerMACMismatch = Kind("headerMACMismatch")
    }

    /// The kind of failure.
    public var kind: Kind {
        switch reason {
        case .truncated: .truncated
        case .unknownVersion: .unknownVersion
        case .invalidField: .invalidField
        case .trailingBytes: .trailingBytes
        case .invalidBase64: .invalidBase64
        case .invalidContext: .invalidContext
        case .authenticationFailed: .authenticationFailed
        case .valueNotAuthentic: .valueNotAuthentic
        case .missingVariable: .missingVariable
        case .unlistedVariable: .unlistedVariable
        case .changedVariable: .changedVariable
        case .headerMACMismatch: .headerMACMismatch
        }
    }

    /// The field at fault, for the kinds that name one (truncated, invalid field or base64).
    public var field: String? {
        switch reason {
        case .truncated(let field), .invalidField(let field, _), .invalidBase64(let field): field
        default: nil
        }
    }

    /// The variable at fault, for the kinds that name one.
    public var variable: String? {
        switch reason {
        case .valueNotAuthentic(let name), .missingVariable(let name), .unlistedVariable(let name), .changedVariable(let name): name
        default: nil
        }
    }

    /// `true` for the kinds that mean "forged or corrupted": stop, do not try another key.
    public var isTampering: Bool {
        switch reason {
        case .authenticationFailed, .valueNotAuthentic, .missingVariable, .unlistedVariable, .changedVariable, .headerMACMismatch:
            return true
        default:
            return false
        }
    }

    /// What was wrong and where.
    public var description: String {
        switch reason {
        case .truncated(let field): return "truncated input: it ends inside \(field)"
        case .unknownVersion(let v): return "unknown format version 0x\(String(v, radix: 16))"
        case .invalidField(let field, let reason): return "invalid \(field): \(reason)"
        case .trailingBytes(let n): return "\(n) unexpected bytes after the end of the structure"
        case .invalidBase64(let field): return "\(field) is not canonical unpadded base64url"
        case .invalidContext(let reason): return "invalid encryption context: \(reason)"
        case .authenticationFailed(let what): return "\(what) did not authenticate: wrong key, wrong context, or tampered data"
        case .valueNotAuthentic(let name): return "the sealed value of \(name) did not authenticate: moved from another variable or file, or changed"
        case .missingVariable(let name): return "sealed variable \(name) is missing: it was removed after sealing"
        case .unlistedVariable(let name): return "variable \(name) is not in the header: it was added or pasted from another file"
        case .changedVariable(let name): return "variable \(name) was changed after sealing"
        case .headerMACMismatch: return "the header's MAC does not match: the header was edited"
        }
    }
}
