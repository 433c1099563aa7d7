package import Foundation
package import KMSWire

/// Carries one KMS JSON 1.1 request to a key service and brings back the response body.
///
/// Two sides answer: ``HTTPKMSTransport`` (SigV4 over HTTP, to envseal's server, AWS KMS or any
/// KMS-compatible service) and, in the CLI, the embedded key store called in-process. Code above
/// a transport (``KMSClient``, the sealed-file code) never knows which one answered.
package protocol KMSTransport: Sendable {
    /// Sends one request.
    /// - Parameters:
    ///   - operation: The KMS operation (its `X-Amz-Target`).
    ///   - body: The JSON request body.
    /// - Returns: The JSON response body of a successful call.
    /// - Throws: ``KMSError`` when the key service answered with an error (its type and message
    ///   as sent), or ``KMSTransportError`` when no answer came back in time.
    func send(_ operation: KMSOperation, body: Data) async throws -> Data
}

/// The key service could not be reached, or did not answer in a usable way.
///
/// The description names the endpoint and the cause; it never holds a request or response body.
public struct KMSTransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong: one of the static members below.
    ///
    /// A struct rather than an enum so that a kind can be added without breaking a `switch`
    /// elsewhere; compare with `==` or match with `case .unreachable:` (and a `default:`).
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        /// The kind's name, as the static member is spelled: `unreachable`.
        public let name: String

        private init(_ name: String) { self.name = name }

        /// No connection could be made, or it broke before a response came.
        public static let unreachable = Kind("unreachable")
        /// The deadline passed before an answer came (retries included).
        public static let deadlineExceeded = Kind("deadlineExceeded")
        /// The service answered with something that is not a KMS response.
        public static let invalidResponse = Kind("invalidResponse")
        /// The client is not configured well enough to send (no region, no credentials, a bad
        /// endpoint URL or credentials file).
        public static let configuration = Kind("configuration")

        /// The kind's name.
        public var description: String { name }
    }

    /// What went wrong.
    public let kind: Kind
    /// What went wrong and where, for a person.
    public let message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
