package import Foundation

/// An HTTP request as SigV4 sees it, independent of any HTTP library.
///
/// The server builds one from what it received and hands it to ``SigV4Verifier``; a client builds
/// one, has ``SigV4Signer`` add the signature headers, then sends exactly that.
///
/// ```swift
/// let request = SigV4Request(
///     method: "POST", path: "/",
///     headers: [.init("Host", "localhost:8080"), .init("Content-Type", "application/x-amz-json-1.1"),
///               .init("X-Amz-Target", "TrentService.ListKeys")],
///     body: Array("{}".utf8))
/// ```
package struct SigV4Request: Sendable, Hashable {
    /// One header line. Names compare case-insensitively; values are kept exactly as received.
    package struct Header: Sendable, Hashable {
        /// The field name, in whatever case it came.
        package var name: String
        /// The field value, as received (SigV4 trims and collapses spaces itself).
        package var value: String

        /// Creates a header line.
        /// - Parameters:
        ///   - name: The field name.
        ///   - value: The field value.
        package init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The method, `POST` for every KMS call.
    package var method: String
    /// The request target as on the wire: the raw, still percent-encoded path, with the query
    /// string after a `?` if there is one (`/`, `/a%20b?x=1`).
    package var path: String
    /// The header lines in the order received. A name may repeat (HTTP allows it); SigV4 joins
    /// repeated values with `,` in this order.
    package var headers: [Header]
    /// The body bytes, exactly as received.
    package var body: [UInt8]

    /// Creates a request.
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - path: The raw request target (path and optional `?query`).
    ///   - headers: The header lines, in order.
    ///   - body: The body bytes.
    package init(method: String, path: String, headers: [Header], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    /// Creates a request whose body is `Data`.
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - path: The raw request target (path and optional `?query`).
    ///   - headers: The header lines, in order.
    ///   - body: The body bytes.
    package init(method: String, path: String, headers: [Header], body: Data) {
        self.init(method: method, path: path, headers: headers, body: [UInt8](body))
    }

    /// The values of every header named `name` (any case), in order.
    /// - Parameter name: The field name.
    /// - Returns: The values, empty when there is no such header.
    package func values(for name: String) -> [String] {
        headers.compactMap { SigV4Text.equalsIgnoringASCIICase($0.name, name) ? $0.value : nil }
    }

    /// The value of the first header named `name` (any case).
    /// - Parameter name: The field name.
    /// - Returns: The value, or `nil` when there is no such header.
    package func firstValue(for name: String) -> String? {
        headers.first { SigV4Text.equalsIgnoringASCIICase($0.name, name) }?.value
    }

    /// Removes every header named `name` (any case).
    /// - Parameter name: The field name.
    package mutating func removeHeaders(named name: String) {
        headers.removeAll { SigV4Text.equalsIgnoringASCIICase($0.name, name) }
    }

    /// Replaces every header named `name` (any case) by one line at the end.
    /// - Parameters:
    ///   - name: The field name, as it should be sent.
    ///   - value: The field value.
    package mutating func setHeader(_ name: String, _ value: String) {
        removeHeaders(named: name)
        headers.append(Header(name, value))
    }
}
