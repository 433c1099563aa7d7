package import Foundation
package import KMSWire

/// A typed KMS client over any ``KMSTransport``.
///
/// The `KMSClient` module is how envseal talks to a key service as a client: the KMS JSON 1.1
/// protocol signed with SigV4 (``HTTPKMSTransport``), the standard AWS endpoint, region and
/// credential settings (``KMSClientConfiguration``), retries with jittered backoff and a
/// deadline. It works the same against envseal's key server, AWS KMS and moto. Code that must
/// stay small links it (the sealed-file code, the CLI as a client), so it must never depend on
/// server code: not KeyService, KeyServer or a key store, nor Hummingbird, GRDB or Postgres.
/// Its dependencies are KMSWire, SodiumKit, AsyncHTTPClient and swift-log, and no others.
///
/// ```swift
/// let client = KMSClient(transport: HTTPKMSTransport(configuration: try .resolve()))
/// let key = try await client.call(KMS.GenerateDataKeyRequest(keyId: "alias/app", keySpec: .aes256))
/// ```
package struct KMSClient: Sendable {
    /// Where requests go.
    package let transport: any KMSTransport

    /// Creates a client.
    /// - Parameter transport: The transport that carries every request.
    package init(transport: any KMSTransport) {
        self.transport = transport
    }

    /// Calls the operation `request` belongs to.
    /// - Parameter request: The operation's input.
    /// - Returns: The operation's output.
    /// - Throws: ``KMSError`` from the service (or `SerializationException` for a response that
    ///   does not decode), ``KMSTransportError`` when it could not be reached.
    package func call<Request: KMSRequest>(_ request: Request) async throws -> Request.Response {
        let body = try KMSJSON.encoder().encode(request)
        let response = try await transport.send(Request.operation, body: body)
        return try KMSJSON.decodeResponse(Request.Response.self, from: response)
    }

    /// Calls an operation with a raw JSON body, for commands that pass a document through.
    /// - Parameters:
    ///   - operation: The operation.
    ///   - body: The JSON request body.
    /// - Returns: The JSON response body.
    /// - Throws: As ``KMSTransport/send(_:body:)``.
    package func call(_ operation: KMSOperation, body: Data) async throws -> Data {
        try await transport.send(operation, body: body)
    }
}
