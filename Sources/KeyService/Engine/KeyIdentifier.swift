import Foundation
import KMSWire

/// A key reference as AWS accepts it: key id, key ARN, alias name or alias ARN.
enum KeyIdentifier: Equatable {
    case keyID(UUID)
    case aliasName(String)

    /// Parses a reference, checking that ARNs name this region and account.
    /// - Throws: `NotFoundException` for anything that is not a key reference here (AWS answers
    ///   unknown and malformed ids alike), `InvalidArnException` for a malformed ARN.
    init(_ text: String, region: String, account: String, partition: String) throws(KMSError) {
        if let id = UUID(uuidString: text), text.count == 36 {
            self = .keyID(id)
            return
        }
        if text.hasPrefix("alias/") {
            self = .aliasName(text)
            return
        }
        if text.hasPrefix("arn:") {
            let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
            guard parts.count == 6, parts[2] == "kms" else { throw KMSError(.invalidArn, "invalid ARN: \(text)") }
            guard parts[1] == partition, parts[3] == region, parts[4] == account else {
                throw KMSError(.notFound, "\(text) is not a key of account \(account) in \(region)")
            }
            let resource = parts[5]
            if resource.hasPrefix("key/"), let id = UUID(uuidString: String(resource.dropFirst(4))), resource.count == 40 {
                self = .keyID(id)
                return
            }
            if resource.hasPrefix("alias/") {
                self = .aliasName(String(resource))
                return
            }
            throw KMSError(.invalidArn, "invalid ARN: \(text)")
        }
        throw KMSError(.notFound, "Invalid keyId \(text)")
    }
}
