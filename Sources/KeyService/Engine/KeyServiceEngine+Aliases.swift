import Foundation
package import KMSWire

extension KeyServiceEngine {
    /// CreateAlias: `alias/<name>` for a key (id or ARN). Needs kms:CreateAlias on the key.
    package func createAlias(_ request: KMS.CreateAliasRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) {
        try await withKey(
            .createAlias, keyID: request.targetKeyId, allowAlias: false, by: principal, requestID: requestID,
            validate: { () throws(KMSError) in
                try request.validate()
                try Self.checkAliasName(request.aliasName)
            },
            state: .notPendingDeletion
        ) { (key, _) async throws(KMSError) in
            let when = now
            do throws(KMSError) {
                try await storeCall { try await store.insertAlias(AliasRecord(name: request.aliasName, keyID: key.id, createdAt: when, updatedAt: when)) }
            } catch where error.type == .alreadyExists {
                throw KMSError(.alreadyExists, "An alias with the name \(aliasARN(request.aliasName)) already exists")
            }
        }
    }

    /// UpdateAlias: points an alias at another key. Needs kms:UpdateAlias on both keys.
    package func updateAlias(_ request: KMS.UpdateAliasRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) {
        try await audited(.updateAlias, principal, requestID: requestID) { (note) async throws(KMSError) in
            try request.validate()
            try Self.checkAliasName(request.aliasName)
            guard let alias = try await storeCall({ try await store.alias(named: request.aliasName) }) else {
                throw KMSError(.notFound, "Alias \(aliasARN(request.aliasName)) is not found.")
            }
            let key = try await openKey(KeyAction(.updateAlias), request.targetKeyId, allowAlias: false, by: principal, note: &note)
            // The alias's old key must allow the move too; its state is checked after both.
            if let old = try await storeCall({ try await store.key(id: alias.keyID) }), old.state != .deleted {
                try await authorize(principal, KeyAction(.updateAlias), key: old)
            }
            guard key.state != .pendingDeletion else { throw KMSError(.kmsInvalidState, "\(key.arn) is pending deletion.") }
            let when = now
            try await storeCall { try await store.updateAlias(named: request.aliasName, keyID: key.id, at: when) }
        }
    }

    /// DeleteAlias. Needs kms:DeleteAlias on the key it names.
    package func deleteAlias(_ request: KMS.DeleteAliasRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) {
        try await audited(.deleteAlias, principal, requestID: requestID) { (note) async throws(KMSError) in
            try request.validate()
            try Self.checkAliasName(request.aliasName)
            guard let alias = try await storeCall({ try await store.alias(named: request.aliasName) }) else {
                throw KMSError(.notFound, "Alias \(aliasARN(request.aliasName)) is not found.")
            }
            if let key = try await storeCall({ try await store.key(id: alias.keyID) }), key.state != .deleted {
                note.keyARN = key.arn
                try await authorize(principal, KeyAction(.deleteAlias), key: key)
            }
            _ = try await storeCall { try await store.deleteAlias(named: request.aliasName) }
        }
    }

    /// ListAliases: all of the account's aliases, or one key's; paginated by marker.
    package func listAliases(_ request: KMS.ListAliasesRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.ListAliasesResponse {
        try await audited(.listAliases, principal, requestID: requestID) { (note) async throws(KMSError) in
            try request.validate()
            var keyID: UUID?
            if let reference = request.keyId {
                let key = try await resolveKey(reference, allowAlias: false)
                note.keyARN = key.arn
                keyID = key.id
            }
            let limit = Self.limit(request.limit, default: 50)
            let after = try request.marker.map { (marker) throws(KMSError) in try openMarker(marker, operation: .listAliases) }
            let page = try await storeCall { try await store.aliases(keyID: keyID, after: after, limit: limit + 1) }
            let truncated = page.count > limit
            let shown = page.prefix(limit)
            return KMS.ListAliasesResponse(
                aliases: shown.map {
                    KMS.AliasListEntry(aliasName: $0.name, aliasArn: aliasARN($0.name), targetKeyId: $0.keyID.uuidString.lowercased(),
                                       creationDate: $0.createdAt, lastUpdatedDate: $0.updatedAt)
                },
                nextMarker: truncated ? shown.last.map { makeMarker($0.name, operation: .listAliases) } : nil, truncated: truncated)
        }
    }

    static func checkAliasName(_ name: String) throws(KMSError) {
        guard name.hasPrefix("alias/"), name.count > 6 else {
            throw KMSError(.invalidAliasName, "Alias must start with the prefix \"alias/\"")
        }
        guard !name.hasPrefix("alias/aws/") else {
            throw KMSError(.invalidAliasName, "Alias names beginning with alias/aws/ are reserved for AWS managed keys")
        }
    }
}
