package import Foundation
package import KMSWire
package import SodiumKit

/// Keys for tests, with fixed ids and, when the operator puts it in the file, fixed material, so
/// that ciphertexts and MACs in a test fixture stay valid across runs and fresh key stores.
///
/// The file is JSON (docs/KEY-SERVICE.md, "Seeded keys"):
///
/// ```json
/// {"keys": [{"id": "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", "description": "fixture",
///            "material": "<base64 of 32 bytes>", "aliases": ["alias/fixture"],
///            "tags": {"purpose": "tests"}}]}
/// ```
package struct KeySeed: Sendable {
    /// One key of the file.
    package struct Key: Sendable {
        package var id: UUID
        package var description: String
        package var spec: KeySpecKind
        /// The material (32 bytes, 48 for HMAC_384, 64 for HMAC_512; a signing key's private key
        /// in its stored form), or `nil` for material generated when the key is seeded.
        package var material: SecureBytes?
        package var aliases: [String]
        /// The key policy document, or `nil` for the default policy.
        package var policy: String?
        package var tags: [KeyTag]
        package var enabled: Bool
        /// `EXTERNAL` for a key created PendingImport, without material, for ImportKeyMaterial.
        package var origin: KeyOrigin = .awsKMS
    }

    package var keys: [Key]

    /// The members a key may have; any other is refused, so a misspelt one is not ignored.
    static let members: Set<String> = ["id", "description", "keySpec", "keyUsage", "material", "aliases", "policy", "tags", "enabled", "origin"]

    /// Parses a seed file.
    /// - Parameters:
    ///   - json: The file's bytes.
    ///   - source: The file's name, for messages.
    /// - Throws: ``KeySeedError`` naming the file, the key (by position and id) and the member;
    ///   never the material.
    package init(json: [UInt8], source: String) throws(KeySeedError) {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: Data(json))
        } catch {
            throw KeySeedError("\(source): not valid JSON (a seed file is a JSON object with a \"keys\" array)")
        }
        guard let object = root as? [String: Any], let entries = object["keys"] as? [Any] else {
            throw KeySeedError("\(source): a seed file is a JSON object with a \"keys\" array")
        }
        if let extra = object.keys.first(where: { $0 != "keys" }) {
            throw KeySeedError("\(source): unknown member \"\(extra)\" (a seed file has only \"keys\")")
        }
        var keys: [Key] = []
        var ids = Set<UUID>()
        for (index, entry) in entries.enumerated() {
            let key = try Self.key(entry, at: "\(source): keys[\(index)]")
            guard ids.insert(key.id).inserted else {
                throw KeySeedError("\(source): keys[\(index)]: id \(key.id.uuidString.lowercased()) appears twice")
            }
            keys.append(key)
        }
        self.keys = keys
    }

    private static func key(_ entry: Any, at place: String) throws(KeySeedError) -> Key {
        guard let fields = entry as? [String: Any] else { throw KeySeedError("\(place): a key is a JSON object") }
        if let extra = fields.keys.sorted().first(where: { !members.contains($0) }) {
            throw KeySeedError("\(place): unknown member \"\(extra)\" (known: \(members.sorted().joined(separator: ", ")))")
        }
        guard let idText = fields["id"] as? String, let id = UUID(uuidString: idText) else {
            throw KeySeedError("\(place): \"id\" must be a key id (a UUID such as 0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9)")
        }
        let place = "\(place) (\(id.uuidString.lowercased()))"
        func string(_ name: String) throws(KeySeedError) -> String? {
            guard let value = fields[name] else { return nil }
            guard let text = value as? String else { throw KeySeedError("\(place): \"\(name)\" must be a string") }
            return text
        }
        let specText = try string("keySpec") ?? "SYMMETRIC_DEFAULT"
        guard let spec = KeySpecKind(rawValue: specText) else {
            throw KeySeedError("\(place): \"keySpec\" \(specText) is not one envseal makes (\(KeySpecKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if let usage = try string("keyUsage"), usage != spec.keyUsage {
            throw KeySeedError("\(place): \"keyUsage\" \(usage) does not go with \(spec.rawValue), whose usage is \(spec.keyUsage)")
        }
        var material: SecureBytes?
        if let encoded = try string("material"), spec.isSigning {
            do {
                material = try SigningKey.importing(encoded, spec: spec)
            } catch {
                throw KeySeedError("\(place): \"material\" is not a \(spec.rawValue) private key (\(error.message)); give PEM, or base64 of DER (PKCS #8, SEC 1 or PKCS #1)")
            }
        } else if let encoded = try string("material") {
            guard var bytes = Data(base64Encoded: encoded) else { throw KeySeedError("\(place): \"material\" is not base64") }
            defer { bytes.resetBytes(in: 0..<bytes.count) }
            guard bytes.count == spec.materialByteCount else {
                throw KeySeedError("\(place): \"material\" must be \(spec.materialByteCount) bytes for \(spec.rawValue), not \(bytes.count)")
            }
            do {
                material = try bytes.withUnsafeBytes { (raw) throws(SodiumError) in try SecureBytes(copying: raw) }
            } catch {
                throw KeySeedError("\(place): the material cannot be held in guarded memory: \(error)")
            }
        }
        var aliases: [String] = []
        if let value = fields["aliases"] {
            guard let names = value as? [String] else { throw KeySeedError("\(place): \"aliases\" must be an array of alias names") }
            for name in names {
                guard name.hasPrefix("alias/"), !name.hasPrefix("alias/aws/"), (try? KMS.CreateAliasRequest(aliasName: name, targetKeyId: "0").validate()) != nil else {
                    throw KeySeedError("\(place): alias \(name) is not a valid alias name (alias/ and letters, digits, /_-; not alias/aws/)")
                }
                aliases.append(name)
            }
        }
        var policy: String?
        if let value = fields["policy"] {
            if let text = value as? String {
                policy = text
            } else if value is [String: Any], let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) {
                policy = String(decoding: data, as: UTF8.self)
            } else {
                throw KeySeedError("\(place): \"policy\" must be a key policy document (an object, or a string holding one)")
            }
        }
        var tags: [KeyTag] = []
        if let value = fields["tags"] {
            guard let pairs = value as? [String: String] else { throw KeySeedError("\(place): \"tags\" must be an object of string values") }
            tags = pairs.sorted { $0.key < $1.key }.map { KeyTag(key: $0.key, value: $0.value) }
        }
        var enabled = true
        if let value = fields["enabled"] {
            guard let flag = value as? Bool else { throw KeySeedError("\(place): \"enabled\" must be true or false") }
            enabled = flag
        }
        let originText = try string("origin") ?? "AWS_KMS"
        guard let origin = KeyOrigin(rawValue: originText) else {
            throw KeySeedError("\(place): \"origin\" \(originText) is not AWS_KMS or EXTERNAL")
        }
        if origin == .external, spec.isSigning {
            throw KeySeedError("\(place): a signing key cannot be of origin EXTERNAL: envseal imports symmetric and HMAC material only")
        }
        if origin == .external, material != nil {
            throw KeySeedError("\(place): a key of origin EXTERNAL has no \"material\": it is imported with ImportKeyMaterial")
        }
        return Key(id: id, description: try string("description") ?? "", spec: spec, material: material, aliases: aliases,
                   policy: policy, tags: tags, enabled: enabled, origin: origin)
    }
}

/// A seed file that cannot be read: what is wrong, and where.
package struct KeySeedError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}

extension KeyServiceEngine {
    /// What seeding did to one key.
    package enum SeedOutcome: Sendable, Equatable {
        case created
        case unchanged
    }

    /// Creates the seed's keys and aliases that do not exist; a key that exists already must be
    /// the seed's (same spec, and same material when the seed gives it; not pending deletion) and
    /// is left as it is (its description, tags, policy and state may have been changed since),
    /// so seeding twice changes nothing. Each created key is audited as CreateKey.
    /// - Returns: Each key's outcome, in the seed's order.
    /// - Throws: `AlreadyExistsException` naming the key id (or alias) and what differs, for a key
    ///   or alias that exists otherwise; the errors of CreateKey (a malformed policy, tags).
    package func seed(_ seed: KeySeed, by principal: Principal) async throws(KMSError) -> [SeedOutcome] {
        try requireAdmin(principal, .createKey)
        var outcomes: [SeedOutcome] = []
        for key in seed.keys {
            outcomes.append(try await seedKey(key, by: principal))
        }
        return outcomes
    }

    private func seedKey(_ seed: KeySeed.Key, by principal: Principal) async throws(KMSError) -> SeedOutcome {
        let arn = keyARN(seed.id)
        let name = "seed key \(seed.id.uuidString.lowercased())"
        let tags = try Self.checkedTags(seed.tags.map { KMS.Tag(tagKey: $0.key, tagValue: $0.value) })
        let policy: String
        if let json = seed.policy {
            policy = try await checkNewPolicy(json, keyARN: arn, keyID: nil, keySpec: seed.spec, principal: principal, bypass: false)
        } else {
            policy = KeyPolicy.defaultPolicy(account: configuration.account, partition: configuration.partition, admins: [principal.arn] + configuration.administrators).json
        }
        let outcome: SeedOutcome
        if let existing = try await storeCall({ try await store.key(id: seed.id) }) {
            try await checkSeeded(existing, seed, name: name)
            outcome = .unchanged
        } else {
            try await audited(.createKey, principal, requestID: nil) { (note) async throws(KMSError) in
                note.keyARN = arn
                let bytes: SecureBytes?
                if let material = seed.material {
                    bytes = material
                } else if seed.spec.isSigning {
                    bytes = try await SigningKey.generate(seed.spec)
                } else {
                    bytes = seed.material ?? (try? SecureRandom.secureBytes(count: seed.spec.materialByteCount))
                }
                guard let bytes else { throw KMSError(.kmsInternal, "cannot allocate key material") }
                var version = newPendingImportVersion(keyID: seed.id)
                if seed.origin == .awsKMS {
                    do {
                        let wrapped = try root.wrap(bytes, id: seed.id, version: 1, purpose: Self.materialPurpose(seed.spec))
                        version = KeyVersionRecord(keyID: seed.id, version: 1, wrappedMaterial: wrapped,
                                                   materialID: try Self.materialID(root: root, keyID: seed.id, version: 1), createdAt: now, rotationType: .initial)
                    } catch {
                        throw KMSError(.kmsInternal, "cannot wrap the material of \(name)")
                    }
                }
                var record = KeyRecord(id: seed.id, arn: arn, account: configuration.account, description: seed.description,
                                       createdAt: version.createdAt, createdBy: principal.arn, state: seed.enabled ? .enabled : .disabled,
                                       policy: policy, tags: tags)
                record.keySpec = seed.spec
                record.origin = seed.origin
                if seed.origin == .external { record.state = .pendingImport }
                try await storeCall { try await store.insertKey(record, firstVersion: version) }
                forgetKey(seed.id)
            }
            outcome = .created
        }
        for alias in seed.aliases {
            if let existing = try await storeCall({ try await store.alias(named: alias) }) {
                guard existing.keyID == seed.id else {
                    throw KMSError(.alreadyExists, "\(name): alias \(alias) exists and names another key, \(keyARN(existing.keyID))")
                }
            } else {
                let when = now
                try await storeCall { try await store.insertAlias(AliasRecord(name: alias, keyID: seed.id, createdAt: when, updatedAt: when)) }
            }
        }
        return outcome
    }

    /// Refuses an existing key that is not the seed's, naming what differs (never the material).
    private func checkSeeded(_ key: KeyRecord, _ seed: KeySeed.Key, name: String) async throws(KMSError) {
        func conflict(_ what: String) -> KMSError {
            KMSError(.alreadyExists, "\(name): a key with this id exists and its \(what) differs from the seed file's; delete the key store or change the id")
        }
        guard key.state != .deleted, key.state != .pendingDeletion else { throw conflict("state") }
        guard key.keySpec == seed.spec else { throw conflict("key spec") }
        guard key.origin == seed.origin else { throw conflict("origin") }
        if let material = seed.material {
            guard let version = try await storeCall({ try await store.version(keyID: key.id, number: 1) }), !version.wrappedMaterial.isEmpty else {
                throw conflict("material")
            }
            let stored: SecureBytes
            do {
                stored = try root.unwrap(version.wrappedMaterial, id: key.id, version: 1, purpose: Self.materialPurpose(key.keySpec))
            } catch {
                throw KMSError(.kmsInternal, "the material of \(key.arn) does not open under the root key")
            }
            guard stored == material else { throw conflict("material") }
        }
    }
}
