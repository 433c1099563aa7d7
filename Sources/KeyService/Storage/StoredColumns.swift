package import Foundation

// The columns and stored forms that the SQL stores share, so their schemas read alike and a
// store can be copied from one to the other. Each store maps its own row type onto these.

extension Date {
    /// The stored form: seconds since 2001-01-01, the `Double` the `Date` holds, so it is exact.
    package var storedValue: Double { timeIntervalSinceReferenceDate }
}

/// A row a store cannot turn back into a record: changed by something else, or damaged.
/// Reported as `.unavailable` naming the table, never the row's contents.
package struct UnreadableRecord: Error {
    /// The table holding the row.
    package let table: String

    package init(table: String) {
        self.table = table
    }

    /// Runs `decode`; any failure becomes an `UnreadableRecord` of `table`, so no error message
    /// ever carries a stored value.
    package static func reading<Record>(table: String, _ decode: () throws -> Record) throws -> Record {
        do {
            return try decode()
        } catch {
            throw UnreadableRecord(table: table)
        }
    }
}

/// A stored value outside its type's range (an id that is no UUID, an unknown enum case).
package struct InvalidStoredValue: Error {
    package init() {}
}

/// The JSON text of the columns holding lists and maps: sorted keys, so equal values give equal
/// text.
package enum StoredJSON {
    package static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    package static func decode<Value: Decodable>(_ type: Value.Type, from text: String) throws -> Value {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    package static func encodeIfPresent(_ value: (some Encodable)?) throws -> String? {
        guard let value else { return nil }
        return try encode(value)
    }

    package static func decodeIfPresent<Value: Decodable>(_ type: Value.Type, from text: String?) throws -> Value? {
        try text.map { try decode(type, from: $0) }
    }

    /// The stored text of a map of strings (an audit record's encryption context), written
    /// directly: byte for byte what ``encode(_:)`` gives, without a `JSONEncoder` per call.
    ///
    /// swift-foundation's `JSONWriter` (Linux) sorts `.sortedKeys` by the keys' UTF-8 bytes and
    /// escapes only the quote, the backslash and bytes below 0x20 (`\b \f \n \r \t`, the others
    /// as `\u00xx` in lowercase hex); with `.withoutEscapingSlashes` every other byte, non-ASCII
    /// included, is copied as is. That is all this writer does; a test holds it to `JSONEncoder`
    /// over random maps. Apple's Foundation may sort as `NSString` does (numeric,
    /// case-insensitive), so there this is ``encode(_:)`` itself.
    package static func encodeMap(_ map: [String: String]) throws -> String {
        #if canImport(Darwin)
        return try encode(map)
        #else
        if map.count < 2 {
            return MapWriter.write(map)  // nothing to sort
        }
        return MapWriter.write(map.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) })
        #endif
    }

    /// A stored `tags` column: most keys have none, so the decoder is skipped for them.
    package static func tags(from text: String) throws -> [KeyTag] {
        text == "[]" ? [] : try decode([KeyTag].self, from: text)
    }
}

/// Writes a JSON object of string pairs, in the order given, as swift-foundation does.
private enum MapWriter {
    static func write(_ pairs: some Collection<(key: String, value: String)>) -> String {
        // Measured first, so the text is written once into a string of exactly its size:
        // "{}", and per pair four quotes, a colon and (but for the first) a comma.
        var count = 2 + 6 * pairs.count - (pairs.isEmpty ? 0 : 1)
        for (key, value) in pairs {
            count += escapedCount(key.utf8) + escapedCount(value.utf8)
        }
        return String(unsafeUninitializedCapacity: count) { buffer in
            var at = 0
            func put(_ byte: UInt8) {
                buffer[at] = byte
                at += 1
            }
            func putString(_ utf8: String.UTF8View) {
                put(UInt8(ascii: "\""))
                for byte in utf8 {
                    switch byte {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"): put(UInt8(ascii: "\\")); put(byte)
                    case 0x08: put(UInt8(ascii: "\\")); put(UInt8(ascii: "b"))
                    case 0x0C: put(UInt8(ascii: "\\")); put(UInt8(ascii: "f"))
                    case 0x0A: put(UInt8(ascii: "\\")); put(UInt8(ascii: "n"))
                    case 0x0D: put(UInt8(ascii: "\\")); put(UInt8(ascii: "r"))
                    case 0x09: put(UInt8(ascii: "\\")); put(UInt8(ascii: "t"))
                    case 0x00..<0x20:
                        for ascii in "\\u00".utf8 { put(ascii) }
                        put(hexDigit(byte >> 4))
                        put(hexDigit(byte & 0x0F))
                    default: put(byte)
                    }
                }
                put(UInt8(ascii: "\""))
            }
            put(UInt8(ascii: "{"))
            var first = true
            for (key, value) in pairs {
                if !first { put(UInt8(ascii: ",")) }
                first = false
                putString(key.utf8)
                put(UInt8(ascii: ":"))
                putString(value.utf8)
            }
            put(UInt8(ascii: "}"))
            return at
        }
    }

    /// The length of `utf8` once escaped, without its quotes.
    private static func escapedCount(_ utf8: String.UTF8View) -> Int {
        var count = 0
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x08, 0x0C, 0x0A, 0x0D, 0x09: count += 2
            case 0x00..<0x20: count += 6
            default: count += 1
            }
        }
        return count
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}

extension KeyRecord {
    package static let columns = """
        id, state, deletion_date, rotation_enabled, next_rotation_date, arn, account, description, \
        created_at, created_by, deletion_scheduled_by, deleted_at, deleted_by, rotation_period_days, \
        on_demand_rotation_count, current_version, key_spec, origin, expiration_model, valid_to, tags, policy
        """

    /// The tags' stored JSON.
    package func storedTags() throws -> String {
        do {
            return try StoredJSON.encode(tags)
        } catch {
            throw KeyStoreError(.unavailable, "the tags of key \(id) cannot be encoded")
        }
    }
}

extension KeyVersionRecord {
    package static let columns = "key_id, version, wrapped_material, material_id, created_at, rotation_type"
}

extension WrappingKeyRecord {
    package static let columns = "id, key_id, algorithm, spec, wrapped_private_key, created_at, valid_to"
}

extension AliasRecord {
    package static let columns = "name, key_id, created_at, updated_at"
}

extension GrantRecord {
    /// Every column but `position`, which the store numbers on insert.
    package static let columns = """
        id, token, key_id, name, grantee_principal, retiring_principal, operations, \
        encryption_context_subset, encryption_context_equals, issuing_account, created_at, created_by, \
        grantee_principal_id, retiring_principal_id
        """

    /// The stored JSON of the operations and the two constraints.
    package func storedJSON() throws -> (operations: String, subset: String?, equals: String?) {
        do {
            return (try StoredJSON.encode(operations), try StoredJSON.encodeIfPresent(encryptionContextSubset),
                    try StoredJSON.encodeIfPresent(encryptionContextEquals))
        } catch {
            throw KeyStoreError(.unavailable, "grant \(id) cannot be encoded")
        }
    }
}

extension PrincipalRecord {
    package static let columns = "access_key_id, name, arn, account, wrapped_secret, created_at, is_admin, enabled, unique_id, identity_policy"
}

extension AuditRecord {
    package static let columns = """
        sequence, time, principal, operation, key_arn, encryption_context, outcome, request_id, \
        previous_hash, hash
        """

    /// The encryption context's stored JSON.
    package func storedContext() throws -> String? {
        do {
            return try encryptionContext.map(StoredJSON.encodeMap)
        } catch {
            throw KeyStoreError(.unavailable, "audit record \(sequence) cannot be encoded")
        }
    }
}
