import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KMSWire
@testable import KeyServer
import KeyService
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

/// The wire rules of the router: what must be signed, what may not repeat, what is exposed where.
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

    @Test("loopback addresses", arguments: [
        ("127.0.0.1", true), ("127.1.2.3", true), ("localhost", true), ("LOCALHOST", true), ("::1", true), ("[::1]", true),
        ("0.0.0.0", false), ("::", false), ("10.0.0.1", false), ("128.0.0.1", false), ("127.0.0.256", false),
        ("127.0.0", false), ("kms.internal", false), ("", false),
    ])
    func loopback(host: String, expected: Bool) {
        #expect(KeyServer.isLoopback(host) == expected)
    }
}

/// The per-request deadline and the close after `Connection: close`, on an embedded channel.
@Suite("request deadline")
struct RequestDeadlineTests {
    static func channel(deadline: TimeAmount = .seconds(5)) throws -> (EmbeddedChannel, RequestDeadlineHandler) {
        let handler = RequestDeadlineHandler(deadline: deadline, logger: Logger(label: "test"))
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, handler)
    }

    static let head = HTTPRequestPart.head(HTTPRequest(method: .post, scheme: nil, authority: "localhost", path: "/"))

    static func written(_ channel: EmbeddedChannel) throws -> [HTTPResponsePart] {
        var parts: [HTTPResponsePart] = []
        while let part = try channel.readOutbound(as: HTTPResponsePart.self) { parts.append(part) }
        return parts
    }

    @Test("a body still arriving at the deadline gets 408 and the connection is shut")
    func trickledBody() throws {
        let (channel, _) = try Self.channel()
        try channel.writeInbound(Self.head)
        for _ in 0..<4 {
            channel.embeddedEventLoop.advanceTime(by: .seconds(1))
            try channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: " ")))
        }
        #expect(try Self.written(channel).isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        let parts = try Self.written(channel)
        guard case .head(let response) = parts.first else { Issue.record("no 408: \(parts)"); return }
        #expect(response.status == .requestTimeout)
        #expect(response.headerFields[.connection] == "close")
        channel.embeddedEventLoop.advanceTime(by: RequestDeadlineHandler.lingerTime)
        #expect(!channel.isActive)
    }

    @Test("headers still arriving at the deadline: the deadline runs from the first byte")
    func trickledHeaders() throws {
        let (channel, handler) = try Self.channel()
        handler.bytesArrived()
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        handler.bytesArrived()  // more header bytes do not restart it
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        guard case .head(let response) = try Self.written(channel).first else { Issue.record("no 408"); return }
        #expect(response.status == .requestTimeout)
    }

    @Test("a request that arrives in time is untouched, however long its answer takes")
    func timelyRequest() throws {
        let (channel, handler) = try Self.channel()
        handler.bytesArrived()
        try channel.writeInbound(Self.head)
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)
        #expect(try Self.written(channel).isEmpty)
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        #expect(try Self.written(channel).count == 2)
        // The next request gets a deadline of its own.
        handler.bytesArrived()
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(try Self.written(channel).count == 2)
    }

    @Test("no 408 inside a response under way: the connection is just closed")
    func noInterleaving() throws {
        let (channel, _) = try Self.channel()
        try channel.writeInbound(Self.head)
        try channel.writeInbound(HTTPRequestPart.end(nil))
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
        try channel.writeInbound(Self.head)  // a pipelined request, trickling
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(try Self.written(channel).count == 1)  // only the response's own head
        #expect(!channel.isActive)
    }

    @Test("after a response saying Connection: close the output is shut, then the connection closed")
    func closeAfterResponse() throws {
        let (channel, _) = try Self.channel()
        try channel.writeInbound(Self.head)
        try channel.writeInbound(HTTPRequestPart.body(ByteBuffer(repeating: 0x20, count: 1024)))
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .contentTooLarge, headerFields: [.connection: "close"])))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        // Flushed before the close (an embedded channel cannot shut its output alone, so it
        // closes at once; a socket lingers, draining what the client still sends).
        #expect(try Self.written(channel).count == 2)
        channel.embeddedEventLoop.advanceTime(by: RequestDeadlineHandler.lingerTime)
        #expect(!channel.isActive)
    }
}
