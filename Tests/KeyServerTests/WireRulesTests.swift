import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KMSWire
@testable import KeyServer
import KeyService
import NIOCore
import Testing

/// The wire rules of the router: what must be signed, what may not repeat.
@Suite("key server wire rules")
struct WireRulesTests {
    typealias R = KeyServerRouterTests

    static func json(_ response: TestResponse) -> (type: String?, message: String) {
        let object = R.json(response)
        return (object["__type"] as? String, object["message"] as? String ?? "")
    }

    static func createKey(_ client: some TestClientProtocol, _ admin: SigV4Credentials) async throws -> String {
        let (headers, body) = try R.signed("CreateKey", "{}", admin)
        let created = try await client.execute(uri: "/", method: .post, headers: headers, body: body)
        return try #require((R.json(created)["KeyMetadata"] as? [String: Any])?["KeyId"] as? String)
    }

    static func keyState(_ client: some TestClientProtocol, _ admin: SigV4Credentials, _ key: String) async throws -> String? {
        let (headers, body) = try R.signed("DescribeKey", #"{"KeyId":"\#(key)"}"#, admin)
        let described = try await client.execute(uri: "/", method: .post, headers: headers, body: body)
        return (R.json(described)["KeyMetadata"] as? [String: Any])?["KeyState"] as? String
    }

    @Test("a signature over host and date only cannot be turned into another operation")
    func operationMustBeSigned() async throws {
        let s = try await R.setup(); defer { try? FileManager.default.removeItem(at: s.directory) }
        try await Application(router: s.server.router()).test(.router) { client in
            let key = try await Self.createKey(client, s.admin)
            let body = Array(#"{"KeyId":"\#(key)"}"#.utf8)
            let signed = try SigV4Signer(region: "us-east-1").sign(
                SigV4Request(method: "POST", path: "/", headers: [.init("Host", "localhost")], body: body),
                credentials: s.admin, date: Date())
            var fields = R.fields(signed)
            fields[.contentType] = KMSJSON.contentType
            fields[HTTPField.Name("X-Amz-Target")!] = "TrentService.DisableKey"
            let response = try await client.execute(uri: "/", method: .post, headers: fields, body: ByteBuffer(bytes: body))
            #expect(response.status == .badRequest)
            #expect(Self.json(response).type == "InvalidSignatureException")
            #expect(Self.json(response).message.contains("'X-Amz-Target'"))
            #expect(try await Self.keyState(client, s.admin, key) == "Enabled")
        }
    }

    @Test("a repeated X-Amz-Target is refused, naming it, before anything reads it",
          arguments: ["TrentService.DisableKey", "TrentService.DescribeKey"])
    func repeatedTarget(second: String) async throws {
        let s = try await R.setup(); defer { try? FileManager.default.removeItem(at: s.directory) }
        try await Application(router: s.server.router()).test(.router) { client in
            let key = try await Self.createKey(client, s.admin)
            var (headers, body) = try R.signed("DescribeKey", #"{"KeyId":"\#(key)"}"#, s.admin)
            headers.append(HTTPField(name: HTTPField.Name("X-Amz-Target")!, value: second))
            let response = try await client.execute(uri: "/", method: .post, headers: headers, body: body)
            #expect(response.status == .badRequest)
            #expect(Self.json(response).type == "IncompleteSignatureException")
            #expect(Self.json(response).message == "The request has more than one 'X-Amz-Target' header.")
            #expect(try await Self.keyState(client, s.admin, key) == "Enabled")
        }
    }

    @Test("a repeated Host, Content-Type or Authorization is refused, naming it",
          arguments: ["Host", "Content-Type", "Authorization"])
    func repeatedHeaders(name: String) async throws {
        let s = try await R.setup(); defer { try? FileManager.default.removeItem(at: s.directory) }
        try await Application(router: s.server.router()).test(.router) { client in
            var (headers, body) = try R.signed("ListKeys", "{}", s.admin)
            let fieldName = HTTPField.Name(name)!
            // Host: a second one beside the authority, as an HTTP/1.1 request with two Host lines arrives.
            headers.append(HTTPField(name: fieldName, value: headers[fieldName] ?? "localhost"))
            let response = try await client.execute(uri: "/", method: .post, headers: headers, body: body)
            #expect(Self.json(response).type == "IncompleteSignatureException")
            #expect(Self.json(response).message == "The request has more than one '\(name)' header.")
        }
    }
}
