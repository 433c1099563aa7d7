// Fuzzes the KMS JSON 1.1 request decoder. The first input byte picks the operation, the rest is
// the body. Any body decodes and validates, or throws a KMSError; a request that decodes
// re-encodes to JSON that decodes and validates to an equal request. Differentially: the fast
// decoder (KMSJSONReader) reads the body as JSONDecoder does, or gives up.
import Foundation
import FuzzSupport
import KMSWire

@_cdecl("FuzzKMSRequest_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}

let operations = KMSOperation.allCases

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = inputBytes(data, size)
    guard let selector = input.first else { return 0 }
    let operation = operations[Int(selector) % operations.count]
    let body = Data(input.dropFirst())
    differential(operation.requestType, body)
    guard let request = try? KMSJSON.decodeRequest(for: operation, from: body) else { return 0 }
    check(type(of: request).operation == operation, "decoded the body of \(operation) as another operation")
    roundTrip(request)
    return 0
}

func roundTrip<Request: KMSRequest>(_ request: Request) {
    let encoded: Data
    do {
        encoded = try KMSJSON.encoder().encode(request)
    } catch {
        fatalError("property violated: a decoded \(Request.operation) request does not encode: \(error)")
    }
    do {
        let again = try KMSJSON.decodeRequest(Request.self, from: encoded)
        check(again == request, "a \(Request.operation) request changes through encode and decode")
    } catch {
        fatalError("property violated: a re-encoded \(Request.operation) request is refused: \(error)")
    }
}

/// The fast path answers nothing, or exactly what JSONDecoder reads (same bytes once re-encoded).
func differential<Request: KMSRequest>(_ type: Request.Type, _ body: Data) {
    guard let fast = KMSJSON.fastDecodeRequest(type, from: body) else { return }
    guard let slow = try? KMSJSON.foundationDecodeRequest(type, from: body) else {
        fatalError("property violated: the fast path reads a \(Request.operation) body that JSONDecoder refuses")
    }
    check(fast == slow, "the fast path reads a \(Request.operation) body differently from JSONDecoder")
    let encoder = KMSJSON.encoder()
    check((try? encoder.encode(fast)) == (try? encoder.encode(slow)), "the fast path's strings differ in code units")
}
