import Foundation
import KMSWire
import TestSupport
import Testing

/// The fast response decoders (what KMSClient reads) against JSONDecoder: `nil` or exactly
/// JSONDecoder's value, and `decodeResponse` answers exactly what JSONDecoder alone answers.
@Suite("KMS JSON fast response decoding")
struct KMSJSONResponseDecodeTests {
    @discardableResult
    static func compare<Response: KMSResponse>(_ type: Response.Type, _ body: Data) -> Bool {
        let fast = KMSJSON.fastDecodeResponse(type, from: body)
        let foundation = Result { () throws(KMSError) in try KMSJSON.foundationDecodeResponse(type, from: body) }
        if let fast {
            guard case .success(let slow) = foundation else {
                Issue.record("\(type): fast path read a body JSONDecoder refuses: \(KMSJSONDecodeTests.printable(body))")
                return true
            }
            #expect(fast == slow, "\(KMSJSONDecodeTests.printable(body))")
            let fastBytes = try? KMSJSON.encoder().encode(fast), slowBytes = try? KMSJSON.encoder().encode(slow)
            #expect(fastBytes != nil && fastBytes == slowBytes, "\(KMSJSONDecodeTests.printable(body))")
        }
        let new = Result { () throws(KMSError) in try KMSJSON.decodeResponse(type, from: body) }
        #expect(new == foundation, "\(type): \(KMSJSONDecodeTests.printable(body))")
        return fast != nil
    }

    @Test(arguments: KMSOperation.allCases)
    func responsesAgreeWithJSONDecoder(_ operation: KMSOperation) throws {
        let type = operation.responseType
        var random = SplitMix64(seed: 0xDEC0DE &+ UInt64(KMSOperation.allCases.firstIndex(of: operation)!))
        var plainBodies = 0
        for round in 0..<60 {
            // A random body with members of many shapes; then the shape's own members only, as the
            // service writes them, which the fast path must read for every simple shape.
            let body = try KMSJSONEncodeTests.randomBody(&random, plain: round % 2 == 0)
            Self.compare(type, body)
            let own = try Self.reencoded(type, body)
            let simple = KMSJSONEncodeTests.fastResponses.contains(operation) || type == KMSEmptyResponse.self
            // Other shapes' bodies go fast too when they lack the members the reader leaves alone;
            // `\u` escapes (the encoder's for most control characters) are left to JSONDecoder.
            let fast = Self.compare(type, own)
            let plain = !String(decoding: own, as: UTF8.self).contains("\\u")
            #expect(fast || !simple || !plain, "\(operation): \(KMSJSONDecodeTests.printable(own))")
            if simple && plain { plainBodies += 1 }
            for _ in 0..<5 {
                Self.compare(type, Data(random.mutate(Array(own))))
            }
        }
        for body in KMSJSONDecodeTests.edgeBodies {
            Self.compare(type, Data(body.utf8))
        }
        let simple = KMSJSONEncodeTests.fastResponses.contains(operation) || type == KMSEmptyResponse.self
        #expect(!simple || plainBodies > 0, "no body without \\u escapes was tried for \(operation)")
    }

    static func reencoded<Response: KMSResponse>(_ type: Response.Type, _ body: Data) throws -> Data {
        try KMSJSON.encodeResponse(KMSJSON.foundationDecodeResponse(type, from: body))
    }

    @Test func theEmptyResponseReadsOnlyAnEmptyObjectFast() {
        #expect(Self.compare(KMSEmptyResponse.self, Data("{}".utf8)))
        #expect(Self.compare(KMSEmptyResponse.self, Data(" {\n} ".utf8)))
        #expect(!Self.compare(KMSEmptyResponse.self, Data("".utf8)))
        #expect(!Self.compare(KMSEmptyResponse.self, Data(#"{"KeyId": "a"}"#.utf8)))
        #expect(!Self.compare(KMSEmptyResponse.self, Data("{} x".utf8)))
    }
}
