import EnvSealFormat
package import Foundation
package import SodiumKit
import Synchronization

/// The principals that may call the key service: creating them (an access key pair whose secret
/// is stored only wrapped under the root key) and looking up their secrets to check signatures.
///
/// Lookups are cached for a second, so a principal disabled or deleted from the CLI while a
/// server runs is refused within a second, without a store read on every request.
package final class PrincipalDirectory: Sendable {
    let store: any KeyStore
    let root: RootKey
    let account: String
    let partition: String
    let cacheLifetime: TimeInterval
    private let cache = Mutex<[String: Entry]>([:])

    struct Entry {
        let record: PrincipalRecord?
        let secret: SecureBytes?
        let fetched: Date
    }

    /// A principal's new credentials, as handed out once.
    package struct Credentials: Sendable {
        package let record: PrincipalRecord
        /// The secret access key, in guarded memory.
        package let secretAccessKey: SecureBytes

        /// The AWS shared-credentials file text for a profile (holds the secret).
        package func sharedCredentialsFile(profile: String = "default", region: String? = nil) -> SecureBytes? {
            secretAccessKey.withUnsafeBytes { secret -> SecureBytes? in
                var text = Array("[\(profile)]\naws_access_key_id = \(record.accessKeyID)\naws_secret_access_key = ".utf8)
                text += secret
                text += Array("\n".utf8)
                if let region { text += Array("region = \(region)\n".utf8) }
                defer { SecureMemory.zero(&text) }
                return try? SecureBytes(copying: text)
            }
        }
    }

    /// Creates a directory over a store.
    package init(store: any KeyStore, root: RootKey, account: String, partition: String = "aws", cacheLifetime: TimeInterval = 1) {
        self.store = store
        self.root = root
        self.account = account
        self.partition = partition
        self.cacheLifetime = cacheLifetime
    }

    /// The identity policy an admin principal gets at creation: `kms:*` on every key. With it an
    /// admin may use any key whose policy delegates to the account (AWS's stock
    /// `"Enable IAM User Permissions"` statement), as an AWS administrator may.
    package static let administratorPolicy = """
        {
          "Version": "2012-10-17",
          "Statement": [{"Sid": "EnvsealAdministrator", "Effect": "Allow", "Action": "kms:*", "Resource": "*"}]
        }
        """

    /// A fresh unique id in AWS's user-id form: `AIDA` and 16 characters of `A`–`Z` and `2`–`7`
    /// (80 random bits), so ids never repeat in practice.
    package static func newUniqueID() -> String {
        "AIDA" + base32(SecureRandom.bytes(count: 10))
    }

    /// Creates a principal with a fresh access key pair and unique id.
    /// - Parameters:
    ///   - name: A short name: letters, digits and `+=,.@_-`, 1 to 64 characters.
    ///   - isAdmin: Whether it administers the service; an admin gets ``administratorPolicy`` as
    ///     its identity policy.
    /// - Returns: The record and the secret, which is not kept anywhere unwrapped.
    /// - Throws: ``PrincipalError`` for a bad or taken name; the store's errors.
    package func create(name: String, isAdmin: Bool = false, now: Date = Date()) async throws -> Credentials {
        guard (1...64).contains(name.count), name.unicodeScalars.allSatisfy({ Self.nameCharacters.contains($0) }) else {
            throw PrincipalError(description: "invalid principal name \"\(name)\": use 1 to 64 letters, digits and +=,.@_-")
        }
        // AWS's shapes: a 20-character AKIA… id, a 40-character secret.
        let id = "AKIA" + Self.base32(SecureRandom.bytes(count: 10))
        let secret = try SecureBytes(copying: Array(Base64URL.encode(SecureRandom.bytes(count: 30)).utf8))
        let wrapped = try root.wrap(secret, id: RootKey.rootID, version: 1, purpose: "principal-secret:\(id)")
        let record = PrincipalRecord(
            accessKeyID: id, name: name, arn: "arn:\(partition):iam::\(account):user/\(name)", account: account,
            wrappedSecret: wrapped, createdAt: now, isAdmin: isAdmin, identityPolicy: isAdmin ? Self.administratorPolicy : nil)
        do {
            try await store.insertPrincipal(record)
        } catch let error as KeyStoreError where error.kind == .alreadyExists {
            throw PrincipalError(description: "a principal named \(name) exists already")
        }
        return Credentials(record: record, secretAccessKey: secret)
    }

    /// The enabled principal with this access key id and its secret, or `nil`.
    package func lookUp(accessKeyID: String, now: Date = Date()) async throws -> (PrincipalRecord, SecureBytes)? {
        if let entry = cache.withLock({ $0[accessKeyID] }), now.timeIntervalSince(entry.fetched) < cacheLifetime {
            guard let record = entry.record, let secret = entry.secret else { return nil }
            return (record, secret)
        }
        var record = try await store.principal(accessKeyID: accessKeyID)
        if record?.isEnabled == false { record = nil }
        let secret = try record.map { try root.unwrap($0.wrappedSecret, id: RootKey.rootID, version: 1, purpose: "principal-secret:\($0.accessKeyID)") }
        cache.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache[accessKeyID] = Entry(record: record, secret: secret, fetched: now)
        }
        guard let record, let secret else { return nil }
        return (record, secret)
    }

    /// Sets a principal's identity policy after checking it parses as one.
    /// - Parameters:
    ///   - accessKeyID: The principal's access key id.
    ///   - json: The policy document, or `nil` to remove the principal's policy.
    /// - Throws: ``PrincipalError`` naming what is wrong with the document; the store's errors
    ///   (`.notFound` for an unknown principal).
    package func setIdentityPolicy(accessKeyID: String, _ json: String?) async throws {
        if let json {
            do {
                _ = try IdentityPolicy(json: json)
            } catch {
                throw PrincipalError(description: "invalid identity policy: \(error)")
            }
        }
        try await store.setPrincipalPolicy(accessKeyID: accessKeyID, json)
        _ = cache.withLock { $0.removeValue(forKey: accessKeyID) }
    }

    /// Deletes a principal, unbinding everything from it so that a principal created later under
    /// the same name is another principal: the grants made to it are deleted with it (in the
    /// store's transaction), and every key policy naming its ARN as a principal names its unique
    /// id instead, as AWS shows a deleted principal. Policies are rewritten before the deletion
    /// (a crash then leaves the principal with less access, never a namesake with more) and
    /// checked again after it, for a policy put in between.
    /// - Parameter accessKeyID: The principal's access key id.
    /// - Returns: The deleted principal, or `nil` when there was none.
    /// - Throws: The store's errors; ``PrincipalError`` naming a key whose policy could not be rewritten.
    @discardableResult
    package func delete(accessKeyID: String) async throws -> PrincipalRecord? {
        guard let record = try await store.principal(accessKeyID: accessKeyID) else { return nil }
        try await unbindKeyPolicies(from: record)
        guard try await store.deletePrincipal(accessKeyID: accessKeyID) else { return nil }
        _ = cache.withLock { $0.removeValue(forKey: accessKeyID) }
        try await unbindKeyPolicies(from: record)
        return record
    }

    /// Rewrites every key policy naming the principal's ARN to name its unique id.
    private func unbindKeyPolicies(from record: PrincipalRecord) async throws {
        var marker: UUID?
        while true {
            let page = try await store.keys(after: marker, limit: 500)
            for key in page {
                guard (try? KeyPolicy(json: key.policy))?.namesPrincipal(record.arn) == true else { continue }
                let arn = record.arn, uniqueID = record.uniqueID
                try await store.updateKey(id: key.id) { key in
                    guard let rewritten = KeyPolicy.replacingPrincipal(arn, with: uniqueID, in: key.policy) else { return }
                    key.policy = rewritten
                }
                let after = try await store.key(id: key.id)
                if let policy = after.flatMap({ try? KeyPolicy(json: $0.policy) }), policy.namesPrincipal(record.arn) {
                    throw PrincipalError(description: "the policy of \(key.arn) names \(record.arn) in a form that cannot be "
                        + "rewritten to its unique id; edit it (envseal keys policy put) and delete the principal again")
                }
            }
            guard page.count == 500, let last = page.last else { return }
            marker = last.id
        }
    }

    /// The engine's view of a principal record.
    package static func principal(_ record: PrincipalRecord) -> Principal {
        Principal(arn: record.arn, account: record.account, isAdmin: record.isAdmin, uniqueID: record.uniqueID,
                  identityPolicy: record.identityPolicy)
    }

    static let nameCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-")

    static func base32(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var out = "", buffer = 0, bits = 0
        for byte in bytes {
            buffer = buffer << 8 | Int(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        return out
    }
}

/// An error managing principals. Never holds a secret.
package struct PrincipalError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    package let description: String
}
