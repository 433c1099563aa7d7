import Foundation
import KMSWire
import TestSupport
import Testing

@Suite("KMS errors on the wire")
struct KMSErrorTests {
    /// AWS Smithy model codes for NotFound (404) and the conflicts (409); otherwise client shapes are 400 and
    /// the three `fault` shapes 500 (Smithy's defaults, and what AWS KMS sends), except
    /// DryRunOperationException, which the KMS API Reference gives 412.
    @Test(arguments: [
        (KMSErrorType.notFound, 404),
        (.disabled, 409),
        (.kmsInvalidState, 409),
        (.alreadyExists, 409),
        (.invalidCiphertext, 400),
        (.incorrectKey, 400),
        (.invalidKeyUsage, 400),
        (.invalidArn, 400),
        (.invalidAliasName, 400),
        (.limitExceeded, 400),
        (.dryRunOperation, 412),
        (.kmsInternal, 500),
        (.dependencyTimeout, 500),
        (.keyUnavailable, 500),
        // Common AWS errors, not in the KMS model.
        (.validation, 400),
        (.accessDenied, 400),
        (.throttling, 400),
        (.serialization, 400),
        (.unknownOperation, 400),
        (.unrecognizedClient, 400),
        (.invalidSignature, 400),
        (.incompleteSignature, 400),
        (.missingAuthenticationToken, 400),
        (.expiredToken, 400),
        (.requestExpired, 400),
        (.internalFailure, 500),
        (.serviceUnavailable, 503),
        (KMSErrorType(rawValue: "SomethingElseException"), 400),
    ])
    func httpStatus(type: KMSErrorType, status: Int) {
        #expect(type.httpStatus == status)
        #expect(KMSError(type, "m").httpStatus == status)
    }

    @Test func modeledAndCommonTypes() {
        #expect(KMSErrorType.notFound.rawValue == "NotFoundException")
        #expect(KMSErrorType.kmsInvalidState.rawValue == "KMSInvalidStateException")
        #expect(KMSErrorType.notFound.isModeled)
        #expect(!KMSErrorType.validation.isModeled)
        #expect(KMSErrorType.modeledExceptions.allSatisfy { $0.isModeled })
        #expect(KMSErrorType.modeledExceptions.allSatisfy { [400, 404, 409, 412, 500].contains($0.httpStatus) })
        #expect(Set(KMSErrorType.modeledExceptions).count == KMSErrorType.modeledExceptions.count)
        #expect(KMSErrorType.commonErrors.allSatisfy { !$0.isModeled })
        #expect(Set(KMSErrorType.commonErrors.map(\.rawValue)) == [
            "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException",
            "MissingAuthenticationTokenException", "ExpiredTokenException", "RequestExpired",
            "AccessDeniedException", "ThrottlingException", "SerializationException",
            "UnknownOperationException", "ValidationException", "InternalFailureException",
            "ServiceUnavailableException",
        ])
        for type in [KMSErrorType.notFound, .disabled, .kmsInvalidState, .alreadyExists, .invalidCiphertext,
                     .incorrectKey, .dryRunOperation, .kmsInternal, .dependencyTimeout, .keyUnavailable] {
            #expect(KMSErrorType.modeledExceptions.contains(type))
        }
    }

    @Test func jsonBodyIsAWSShape() {
        let error = KMSError(.notFound, "Key 'arn:aws:kms:us-east-1:111122223333:key/1234' does not exist")
        #expect(String(decoding: error.jsonBody(), as: UTF8.self)
            == #"{"__type":"NotFoundException","message":"Key 'arn:aws:kms:us-east-1:111122223333:key/1234' does not exist"}"#)
        #expect(String(decoding: KMSError(.validation, "").jsonBody(), as: UTF8.self)
            == #"{"__type":"ValidationException","message":""}"#)
    }

    @Test func jsonBodyEscapes() throws {
        let message = "quote \" backslash \\ newline \n tab \t bell \u{07} nul \u{00} é € 🔑"
        let body = KMSError(.kmsInvalidState, message).jsonBody()
        #expect(String(decoding: body, as: UTF8.self)
            == #"{"__type":"KMSInvalidStateException","message":"quote \" backslash \\ newline \n tab \t bell \u0007 nul \u0000 é € 🔑"}"#)
        let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: String])
        #expect(object["message"] == message)
        #expect(KMSError(jsonBody: body) == KMSError(.kmsInvalidState, message))
    }

    /// What `jsonBody()` wrote with a JSONEncoder before it used KMSJSONWriter.
    private struct EncodedBody: Encodable {
        let type: String
        let message: String

        enum CodingKeys: String, CodingKey {
            case type = "__type"
            case message
        }
    }

    @Test func jsonBodyIsWhatJSONEncoderWrites() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let characters = (0 ..< 0x80).map { String(UnicodeScalar(UInt8($0))) } + ["é", "\u{2028}", "\u{2029}", "🔑", "e\u{301}"]
        var random = SplitMix64(seed: 0xE440_0001)
        for round in 0 ..< 300 {
            let message = round < characters.count ? "a\(characters[round])/" : (0 ..< random.int(0 ... 30)).map { _ in random.pick(characters) }.joined()
            let type = round % 3 == 0 ? "Bad\"Type\\/\n" : KMSErrorType.modeledExceptions[round % KMSErrorType.modeledExceptions.count].rawValue
            let error = KMSError(KMSErrorType(rawValue: type), message)
            #expect(error.jsonBody() == (try encoder.encode(EncodedBody(type: type, message: message))))
        }
    }

    @Test func jsonBodyCarriesEveryControlCharacterAndSlash() throws {
        let message = String(String.UnicodeScalarView((0 ..< 0x20).compactMap(Unicode.Scalar.init)))
            + "\u{7F} \u{2028} \u{2029} arn:aws:kms:us-east-1:111122223333:alias/a/b"
        let body = KMSError(.validation, message).jsonBody()
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.hasPrefix(#"{"__type":"ValidationException","message":"\u0000"#))
        #expect(text.contains("alias/a/b"))
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 })
        let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: String])
        #expect(object == ["__type": "ValidationException", "message": message])
    }

    @Test(arguments: [KMSError(.disabled, "Key is disabled"), KMSError(.incorrectKey, "wrong key"), KMSError(.throttling, "slow down"),
                      KMSError(.accessDenied, "no"), KMSError(KMSErrorType(rawValue: "NewException"), "new")])
    func roundTrip(error: KMSError) {
        #expect(KMSError(jsonBody: error.jsonBody()) == error)
    }

    @Test func parsesWhatBotocoreParses() {
        #expect(KMSError(jsonBody: Data(#"{"__type":"com.amazonaws.kms#NotFoundException","message":"gone"}"#.utf8))
            == KMSError(.notFound, "gone"))
        #expect(KMSError(jsonBody: Data(#"{"__type":"com.amazon.coral.service#InvalidSignatureException","Message":"bad"}"#.utf8))
            == KMSError(.invalidSignature, "bad"))
        #expect(KMSError(jsonBody: Data(
            #"{"__type":"ValidationException:http://internal.amazon.com/coral/com.amazon.coral.validate/","message":"v"}"#.utf8))
            == KMSError(.validation, "v"))
        #expect(KMSError(jsonBody: Data(#"{"__type":"ThrottlingException"}"#.utf8)) == KMSError(.throttling, ""))
        #expect(KMSError(jsonBody: Data(#"{"message":"no type"}"#.utf8)) == nil)
        #expect(KMSError(jsonBody: Data(#"{"__type":5}"#.utf8)) == nil)
        #expect(KMSError(jsonBody: Data("[]".utf8)) == nil)
        #expect(KMSError(jsonBody: Data("<html>Service Unavailable</html>".utf8)) == nil)
        #expect(KMSErrorType(wireValue: "a.b#c#DisabledException") == .disabled)
    }

    @Test func description() {
        #expect(KMSError(.disabled, "Key is disabled").description == "DisabledException: Key is disabled")
        #expect(KMSError(.throttling, "").description == "ThrottlingException")
    }
}
