package import Foundation

// MARK: - Operations

extension KMSOperation {
    /// The service's `X-Amz-Target` prefix in the model (`targetPrefix`).
    package static let targetPrefix = "TrentService"

    /// The operation name: `Encrypt`.
    package var name: String { rawValue }

    /// The `X-Amz-Target` header value: `TrentService.Encrypt`.
    package var target: String { Self.targetPrefix + "." + rawValue }

    /// The operation an `X-Amz-Target` header names, or `nil` (answer `UnknownOperationException`).
    package init?(target: String) {
        let prefix = Self.targetPrefix + "."
        guard target.hasPrefix(prefix) else { return nil }
        self.init(rawValue: String(target.dropFirst(prefix.count)))
    }
}

// MARK: - Request and response protocols

/// A body shape with a generated decoder over ``KMSJSONReader``: every request and response.
package protocol KMSFastDecodable {
    /// The value read from a body inside ``KMSJSONReader``'s subset, or `nil` to let
    /// `JSONDecoder` read it (generated; see ``KMSJSON/fastDecodeRequest(_:from:)`` and
    /// ``KMSJSON/fastDecodeResponse(_:from:)``).
    static func fastDecoded(from reader: inout KMSJSONReader) -> Self?
}

/// The input structure of a ``KMSOperation``; the conformances are generated.
package protocol KMSRequest: Codable, Sendable, Equatable, KMSFastDecodable {
    /// The operation's output structure (``KMSEmptyResponse`` where the model has none).
    associatedtype Response: KMSResponse

    /// The operation this is the input of.
    static var operation: KMSOperation { get }

    /// Checks the model's constraints on every member; throws a `ValidationException` naming each
    /// violating member, in AWS's wording.
    func validate() throws(KMSError)
}

/// The output structure of a ``KMSOperation``; the conformances are generated.
package protocol KMSResponse: Codable, Sendable, Equatable, KMSFastDecodable {
    /// The body exactly as ``KMSJSON/encoder()`` writes it, or `nil` for shapes that
    /// ``KMSJSONWriter`` cannot write (generated; see ``KMSJSON/encodeResponse(_:)``).
    func fastEncoded() -> Data?
}

/// The response of the operations that the model gives no output (`EnableKey`, `CreateAlias`, …).
///
/// AWS answers these with HTTP 200 and an empty body; ``KMSJSON/encodeResponse(_:)`` writes `{}`,
/// which every AWS SDK parses the same way, and ``KMSJSON/decodeResponse(_:from:)`` accepts both.
package struct KMSEmptyResponse: KMSResponse {
    /// The empty response.
    package init() {}

    /// `{}`, as `JSONEncoder` writes an empty structure.
    package func fastEncoded() -> Data? {
        Data("{}".utf8)
    }

    /// The empty response from `{}`; `nil` (JSONDecoder decides) for anything else.
    package static func fastDecoded(from reader: inout KMSJSONReader) -> Self? {
        var first = true
        guard reader.beginObject(), reader.nextElement(&first, closing: UInt8(ascii: "}")) == false else { return nil }
        return Self()
    }
}

// MARK: - JSON

/// The JSON 1.1 wire conventions of KMS: blobs as base64 strings, timestamps as epoch seconds,
/// absent members omitted.
package enum KMSJSON {
    /// The `Content-Type` of requests and responses.
    package static let contentType = "application/x-amz-json-1.1"

    /// A decoder for KMS bodies: timestamps from epoch seconds, blobs from base64.
    package static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        decoder.dataDecodingStrategy = .base64
        return decoder
    }

    /// An encoder for KMS bodies: timestamps as epoch seconds, blobs as base64, no pretty
    /// printing, `nil` members omitted, keys sorted (so output is byte-for-byte reproducible) and
    /// `/` unescaped.
    package static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.dataEncodingStrategy = .base64
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// Decodes a request body and validates it, throwing what AWS would answer:
    /// - a missing or `null` required member: `ValidationException` (`Value null at 'keyId'
    ///   failed to satisfy constraint: Member must not be null`);
    /// - a body that is not a JSON object, a member of the wrong JSON type, or a blob that is not
    ///   base64: `SerializationException` naming the member (never its value);
    /// - constraint violations: `ValidationException` from ``KMSRequest/validate()``.
    ///
    /// An empty body is read as `{}`. Unknown members are ignored.
    ///
    /// Bodies as clients send them (known members, plain strings, canonical base64) are read by
    /// the generated fast decoder (``fastDecodeRequest(_:from:)``); it gives up on anything else,
    /// valid or not, and `JSONDecoder` reads the body as before, so answers never depend on which
    /// path ran.
    package static func decodeRequest<Request: KMSRequest>(
        _ type: Request.Type, from body: Data
    ) throws(KMSError) -> Request {
        let request: Request
        if let fast = fastDecodeRequest(type, from: body) {
            request = fast
        } else {
            request = try decode(type, from: body)
        }
        try request.validate()
        return request
    }

    /// The request read by its generated decoder over ``KMSJSONReader``, or `nil` when the body
    /// leaves the reader's subset; never a value other than the one `JSONDecoder` reads. Not
    /// validated.
    package static func fastDecodeRequest<Request: KMSRequest>(_ type: Request.Type, from body: Data) -> Request? {
        fastDecode(type, from: body)
    }

    /// The request as `JSONDecoder` alone reads it, errors included; not validated. For tests
    /// and the fuzz target that compare it with ``fastDecodeRequest(_:from:)``.
    package static func foundationDecodeRequest<Request: KMSRequest>(
        _ type: Request.Type, from body: Data
    ) throws(KMSError) -> Request {
        try decode(type, from: body)
    }

    /// Decodes and validates the request body of `operation`; see ``decodeRequest(_:from:)``.
    package static func decodeRequest(for operation: KMSOperation, from body: Data) throws(KMSError) -> any KMSRequest {
        try decodeRequest(operation.requestType, from: body)
    }

    /// Encodes a response body. Fails only for values JSON cannot carry (a non-finite date), as
    /// `KMSInternalException`.
    ///
    /// Shapes of strings, blobs, numbers, booleans and lists of strings (Decrypt's, Encrypt's, …)
    /// are written by their generated encoder over ``KMSJSONWriter``, byte for byte what the
    /// encoder writes; the others go through the encoder.
    package static func encodeResponse(_ response: some KMSResponse) throws(KMSError) -> Data {
        if let body = response.fastEncoded() {
            return body
        }
        return try foundationEncodeResponse(response)
    }

    /// The response as the shared `JSONEncoder` writes it; for tests that compare it with the
    /// fast encoders.
    package static func foundationEncodeResponse(_ response: some KMSResponse) throws(KMSError) -> Data {
        do {
            return try sharedEncoder.encode(response)
        } catch {
            throw KMSError(.kmsInternal, "The response could not be encoded.")
        }
    }

    /// Decodes a response body (for clients and tests), reading an empty body as `{}`; errors are
    /// reported as for requests (``decodeRequest(_:from:)``), without validation.
    ///
    /// Like requests, the usual bodies are read by the generated fast decoder and the rest by
    /// `JSONDecoder` (``fastDecodeResponse(_:from:)``).
    package static func decodeResponse<Response: KMSResponse>(
        _ type: Response.Type, from body: Data
    ) throws(KMSError) -> Response {
        if let response = fastDecodeResponse(type, from: body) {
            return response
        }
        return try decode(type, from: body)
    }

    /// The response read by its generated decoder over ``KMSJSONReader``, or `nil` when the body
    /// leaves the reader's subset; never a value other than the one `JSONDecoder` reads.
    package static func fastDecodeResponse<Response: KMSResponse>(_ type: Response.Type, from body: Data) -> Response? {
        fastDecode(type, from: body)
    }

    /// The whole body read by `Value`'s generated decoder, or `nil`.
    private static func fastDecode<Value: KMSFastDecodable>(_ type: Value.Type, from body: Data) -> Value? {
        body.withUnsafeBytes { bytes in
            var reader = KMSJSONReader(bytes)
            guard let value = Value.fastDecoded(from: &reader), reader.isAtEnd() else { return nil }
            return value
        }
    }

    /// The response as `JSONDecoder` alone reads it, errors included; for tests.
    package static func foundationDecodeResponse<Response: KMSResponse>(
        _ type: Response.Type, from body: Data
    ) throws(KMSError) -> Response {
        try decode(type, from: body)
    }

    // One decoder and one encoder for every body: their options never change after these lines,
    // and Foundation's JSONDecoder and JSONEncoder are Sendable (their options behind a lock), so
    // concurrent requests share them safely. Making a fresh pair per request cost about 3,000
    // instructions of a Decrypt.
    private static let sharedDecoder = decoder()
    private static let sharedEncoder = encoder()

    private static func decode<Value: Decodable>(_ type: Value.Type, from body: Data) throws(KMSError) -> Value {
        let json = body.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D } ? Data("{}".utf8) : body
        do {
            return try sharedDecoder.decode(type, from: json)
        } catch let error as DecodingError {
            throw kmsError(for: error)
        } catch {
            throw KMSError(.serialization, "The body could not be read.")
        }
    }

    /// Maps a `DecodingError` to AWS's answer, naming the member by its AWS path.
    static func kmsError(for error: DecodingError) -> KMSError {
        switch error {
        case .keyNotFound(let key, let context):
            return KMSValidation.missingMember(at: awsPath(context.codingPath + [key]))
        case .valueNotFound(_, let context) where !context.codingPath.isEmpty:
            return KMSValidation.missingMember(at: awsPath(context.codingPath))
        case .typeMismatch(_, let context) where !context.codingPath.isEmpty,
             .dataCorrupted(let context) where !context.codingPath.isEmpty:
            return KMSError(.serialization, "Unexpected JSON value at '\(awsPath(context.codingPath))'.")
        case .typeMismatch, .valueNotFound:
            return KMSError(.serialization, "The body must be a JSON object.")
        case .dataCorrupted:
            return KMSError(.serialization, "The body is not valid JSON.")
        @unknown default:
            return KMSError(.serialization, "The body could not be read.")
        }
    }

    /// `[Tags, 0, TagKey]` → `tags.1.member.tagKey`.
    static func awsPath(_ codingPath: [any CodingKey]) -> String {
        var path = ""
        for key in codingPath {
            if let index = key.intValue {
                path = KMSValidation.member(of: path, index: index)
            } else {
                let name = key.stringValue
                let field = name.prefix(1).lowercased() + name.dropFirst()
                path = KMSValidation.join(path, field)
            }
        }
        return path
    }
}

// MARK: - String maps

/// A key of a JSON object read as a string map (an encryption context, say).
struct KMSMapKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }

    init(stringValue: String) {
        self.stringValue = stringValue
    }

    init?(intValue: Int) {
        return nil
    }
}

extension KeyedDecodingContainer {
    /// An optional JSON object of strings, read key by key from one nested container: what
    /// `decodeIfPresent([String: String].self, forKey:)` returns, with the same errors at the
    /// same coding paths (a member that is not an object, a value that is not a string), without
    /// the dictionary's generic `Decodable` path. The generated shapes read string maps with it.
    package func decodeStringMapIfPresent(forKey key: Key) throws -> [String: String]? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        let object = try nestedContainer(keyedBy: KMSMapKey.self, forKey: key)
        let keys = object.allKeys
        var map: [String: String] = [:]
        map.reserveCapacity(keys.count)
        for member in keys {
            map[member.stringValue] = try object.decode(String.self, forKey: member)
        }
        return map
    }
}
