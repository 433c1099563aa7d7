public import Foundation

// MARK: - Error type

/// The `__type` of an AWS JSON 1.1 error: a KMS exception shape or one of AWS's common errors.
///
/// An open set, like the model's enums: a type this build does not know (parsed from another
/// server's reply, say) is kept as it came. The static members for every exception shape in the
/// KMS model (``notFound``, ``kmsInvalidState``, …) are generated in `KMSShapes.swift`; the common
/// errors below are not in the KMS model but every AWS SDK understands them.
public struct KMSErrorType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The name on the wire, without namespace prefix: `NotFoundException`.
    public let rawValue: String

    /// Wraps an error name.
    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// `UnrecognizedClientException`: the access key ID or security token is not known.
    public static let unrecognizedClient = KMSErrorType(rawValue: "UnrecognizedClientException")
    /// `InvalidSignatureException`: the SigV4 signature does not match the request.
    public static let invalidSignature = KMSErrorType(rawValue: "InvalidSignatureException")
    /// `IncompleteSignatureException`: the `Authorization` header is malformed or lacks a component.
    public static let incompleteSignature = KMSErrorType(rawValue: "IncompleteSignatureException")
    /// `MissingAuthenticationTokenException`: the request is not signed at all.
    public static let missingAuthenticationToken = KMSErrorType(rawValue: "MissingAuthenticationTokenException")
    /// `ExpiredTokenException`: the session token of temporary credentials has expired.
    public static let expiredToken = KMSErrorType(rawValue: "ExpiredTokenException")
    /// `RequestExpired`: the request's signing time is too far from the server's clock.
    public static let requestExpired = KMSErrorType(rawValue: "RequestExpired")
    /// `AccessDeniedException`: the caller is authenticated but not allowed to do this.
    public static let accessDenied = KMSErrorType(rawValue: "AccessDeniedException")
    /// `ThrottlingException`: too many requests; SDKs retry it with backoff.
    public static let throttling = KMSErrorType(rawValue: "ThrottlingException")
    /// `SerializationException`: the body is not JSON, or a member has the wrong JSON type.
    public static let serialization = KMSErrorType(rawValue: "SerializationException")
    /// `UnknownOperationException`: the `X-Amz-Target` names no operation of this service.
    public static let unknownOperation = KMSErrorType(rawValue: "UnknownOperationException")
    /// `ValidationException`: a member violates the model's constraints or a required one is missing.
    public static let validation = KMSErrorType(rawValue: "ValidationException")
    /// `InternalFailureException`: an unexpected server error; SDKs retry it (status 500).
    public static let internalFailure = KMSErrorType(rawValue: "InternalFailureException")
    /// `ServiceUnavailableException`: the server cannot take requests now; SDKs retry it (status 503).
    public static let serviceUnavailable = KMSErrorType(rawValue: "ServiceUnavailableException")

    /// The common AWS errors above, which are not shapes of the KMS model.
    public static let commonErrors: [KMSErrorType] = [
        .unrecognizedClient, .invalidSignature, .incompleteSignature, .missingAuthenticationToken,
        .expiredToken, .requestExpired, .accessDenied, .throttling, .serialization,
        .unknownOperation, .validation, .internalFailure, .serviceUnavailable,
    ]

    /// HTTP status of the common errors, as AWS's JSON-protocol services send them.
    ///
    /// - 400 for the authentication and request errors (`UnrecognizedClientException`,
    ///   `InvalidSignatureException`, `IncompleteSignatureException`,
    ///   `MissingAuthenticationTokenException`, `ExpiredTokenException`, `RequestExpired`,
    ///   `AccessDeniedException`, `ThrottlingException`, `SerializationException`,
    ///   `UnknownOperationException`, `ValidationException`): JSON 1.x services (KMS, DynamoDB)
    ///   answer every client error with 400, as DynamoDB's error reference lists for these names
    ///   and AWS's "Common Errors" page lists for `AccessDenied`, `ThrottlingException`,
    ///   `RequestExpired` and `ExpiredTokenException`. (The Query-protocol 403s for
    ///   `InvalidClientTokenId`/`MissingAuthenticationToken` do not apply to JSON services.)
    ///   SDKs recognise throttling by name, not status, so 400 still gets retried.
    /// - 500 for `InternalFailureException` and 503 for `ServiceUnavailableException`, per the
    ///   "Common Errors" page (`InternalFailure` 500, `ServiceUnavailable` 503); SDKs retry both.
    static let commonHTTPStatus: [String: Int] = [
        "UnrecognizedClientException": 400,
        "InvalidSignatureException": 400,
        "IncompleteSignatureException": 400,
        "MissingAuthenticationTokenException": 400,
        "ExpiredTokenException": 400,
        "RequestExpired": 400,
        "AccessDeniedException": 400,
        "ThrottlingException": 400,
        "SerializationException": 400,
        "UnknownOperationException": 400,
        "ValidationException": 400,
        "InternalFailureException": 500,
        "ServiceUnavailableException": 503,
    ]

    /// The HTTP status code a server sends with this error.
    ///
    /// Modeled KMS exceptions use the generated table (see ``modeledExceptions``): botocore's KMS
    /// model gives no `httpStatusCode`, so it is 500 for the three `fault` shapes
    /// (`DependencyTimeoutException`, `KMSInternalException`, `KeyUnavailableException`), 412 for
    /// `DryRunOperationException`, 404 for `NotFoundException` and 409 for
    /// `AlreadyExistsException`, `DisabledException` and `KMSInvalidStateException` (AWS's Smithy
    /// model of KMS), and 400 for every other. Common errors use ``commonErrors``' documented codes; an unknown type is 400.
    public var httpStatus: Int {
        Self.modeledHTTPStatus[rawValue] ?? Self.commonHTTPStatus[rawValue] ?? 400
    }

    /// Whether the type is an exception shape of the KMS model.
    public var isModeled: Bool { Self.modeledHTTPStatus[rawValue] != nil }

    /// The error name.
    public var description: String { rawValue }

    /// Normalises a `__type` value the way botocore does: drops anything after the first `:` and
    /// any namespace up to the last `#` (`com.amazonaws.kms#NotFoundException` → `NotFoundException`).
    public init(wireValue: String) {
        var name = Substring(wireValue)
        if let colon = name.firstIndex(of: ":") {
            name = name[..<colon]
        }
        if let hash = name.lastIndex(of: "#") {
            name = name[name.index(after: hash)...]
        }
        self.init(rawValue: String(name))
    }
}

// MARK: - Error

/// An error as the AWS KMS JSON 1.1 protocol carries it: `{"__type":"NotFoundException","message":"…"}`
/// with an HTTP status derived from the type.
///
/// Messages go to the client as they are: never put key material, plaintext or ciphertext in them.
public struct KMSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The error's `__type`.
    public var type: KMSErrorType
    /// The human-readable message (`message` on the wire).
    public var message: String

    /// Creates an error of a type with a message: `KMSError(.notFound, "Alias alias/app is not found.")`.
    ///
    /// The one way to make an error, for every type the model has and any other (``KMSErrorType``
    /// is an open set).
    public init(_ type: KMSErrorType, _ message: String) {
        self.type = type
        self.message = message
    }

    /// The HTTP status code to answer with; see ``KMSErrorType/httpStatus``.
    public var httpStatus: Int { type.httpStatus }

    /// `Type: message`.
    public var description: String { message.isEmpty ? type.rawValue : "\(type.rawValue): \(message)" }

    /// The response body: `{"__type":"<Name>","message":"…"}`, UTF-8 JSON.
    public func jsonBody() -> Data {
        // Byte for byte what JSONEncoder writes with `.sortedKeys` (`__type` first) and
        // `.withoutEscapingSlashes` (slashes in ARNs stay as they are), without an encoder per error.
        var writer = KMSJSONWriter(capacity: 32 + type.rawValue.utf8.count + message.utf8.count)
        writer.member("__type", type.rawValue)
        writer.member("message", message)
        return writer.finish()
    }

    /// Parses an error body as botocore does: the type from `__type` (namespace prefix and `:`
    /// suffix removed, see ``KMSErrorType/init(wireValue:)``), the message from `message` or
    /// `Message`. Returns `nil` if the body is not a JSON object with a string `__type`.
    public init?(jsonBody: Data) {
        guard let wire = try? JSONDecoder().decode(WireError.self, from: jsonBody),
              let type = wire.type
        else { return nil }
        self.init(KMSErrorType(wireValue: type), wire.message ?? wire.capitalMessage ?? "")
    }

    private struct WireError: Decodable {
        var type: String?
        var message: String?
        var capitalMessage: String?

        enum CodingKeys: String, CodingKey {
            case type = "__type"
            case message
            case capitalMessage = "Message"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            type = try? container.decodeIfPresent(String.self, forKey: .type)
            message = try? container.decodeIfPresent(String.self, forKey: .message)
            capitalMessage = try? container.decodeIfPresent(String.self, forKey: .capitalMessage)
        }
    }
}

// MARK: - Validation (used by the generated validate() methods)

/// Collects constraint violations in AWS's wording and turns them into one `ValidationException`:
/// `2 validation errors detected: Value at 'numberOfBytes' failed to satisfy constraint: Member
/// must have value less than or equal to 1024; Value null at 'keyId' failed to satisfy
/// constraint: Member must not be null`.
///
/// Paths are AWS's: member names with a lowercase first letter, joined by `.`, list elements as
/// `tags.1.member` (1-based). Values are only quoted for pattern and enum violations of
/// non-sensitive strings of at most ``maxEchoedLength`` characters; blobs, numbers and lengths
/// are never quoted, so plaintext never reaches an error message.
struct KMSValidation: Sendable {
    /// The violations found so far, each `Value … at '…' failed to satisfy constraint: …`.
    private(set) var violations: [String] = []

    /// Longest string value quoted back in a message.
    static let maxEchoedLength = 256

    init() {}

    /// `path.field`, or `field` at the top level.
    static func join(_ path: String, _ field: String) -> String {
        path.isEmpty ? field : path + "." + field
    }

    /// The path of the element at a zero-based `index` of the list `field`: `tags.1.member`.
    static func member(of field: String, index: Int) -> String {
        "\(field).\(index + 1).member"
    }

    /// The message for a set of violations, or `nil` if there are none.
    static func message(for violations: [String]) -> String? {
        switch violations.count {
        case 0: return nil
        case 1: return "1 validation error detected: " + violations[0]
        default:
            return "\(violations.count) validation errors detected: " + violations.joined(separator: "; ")
        }
    }

    /// A `ValidationException` for a required member that is missing or `null` at `path`.
    static func missingMember(at path: String) -> KMSError {
        KMSError(.validation, "1 validation error detected: Value null at '\(path)' failed to satisfy constraint: "
            + "Member must not be null")
    }

    /// Throws the collected violations, if any, as one `ValidationException`.
    func finish() throws(KMSError) {
        if let message = Self.message(for: violations) {
            throw KMSError(.validation, message)
        }
    }

    mutating func fail(_ constraint: String, echoing value: String? = nil, path: String, field: String) {
        let location = Self.join(path, field)
        if let value, value.count <= Self.maxEchoedLength {
            violations.append("Value '\(value)' at '\(location)' failed to satisfy constraint: \(constraint)")
        } else {
            violations.append("Value at '\(location)' failed to satisfy constraint: \(constraint)")
        }
    }

    private mutating func bounds(_ size: Int, min: Int?, max: Int?, noun: String, path: String, field: String) {
        if let min, size < min {
            fail("Member must have \(noun) greater than or equal to \(min)", path: path, field: field)
        }
        if let max, size > max {
            fail("Member must have \(noun) less than or equal to \(max)", path: path, field: field)
        }
    }

    /// String length, in Unicode scalars (Smithy's measure).
    mutating func length(of value: String, min: Int?, max: Int?, path: String, field: String) {
        bounds(value.unicodeScalars.count, min: min, max: max, noun: "length", path: path, field: field)
    }

    /// Blob length, in bytes. The contents are never quoted.
    mutating func length(of value: Data, min: Int?, max: Int?, path: String, field: String) {
        bounds(value.count, min: min, max: max, noun: "length", path: path, field: field)
    }

    /// List or map size (AWS words it as a length too).
    mutating func count(_ count: Int, min: Int?, max: Int?, path: String, field: String) {
        bounds(count, min: min, max: max, noun: "length", path: path, field: field)
    }

    mutating func range(_ value: Int, min: Int?, max: Int?, path: String, field: String) {
        bounds(value, min: min, max: max, noun: "value", path: path, field: field)
    }

    mutating func pattern(_ pattern: KMSPattern, _ value: String, echo: Bool, path: String, field: String) {
        if !pattern.matches(value) {
            fail("Member must satisfy regular expression pattern: \(pattern.source)",
                 echoing: echo ? value : nil, path: path, field: field)
        }
    }

    mutating func enumValue(_ value: String, known: [String], echo: Bool, path: String, field: String) {
        if !known.contains(value) {
            fail("Member must satisfy enum value set: [\(known.joined(separator: ", "))]",
                 echoing: echo ? value : nil, path: path, field: field)
        }
    }
}
