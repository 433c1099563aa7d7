package import SodiumKit

/// The header variable of a sealed dotenv file: `ENVSEAL=<base64url>` (docs/FORMAT.md, section 4).
///
/// Version 2, which every writer writes:
/// ```
/// u8      version: 0x02
/// u8      flags: 0 (every bit reserved)
/// u8      slot count, 1 to 255; then each slot:
///   u8    kind: 0 = key service, 1 = recovery recipient
///   kind 0: u8 flags (bit 0 = key ARN follows), [u16 n, n bytes ARN], u16 n, n bytes context,
///           u16 n, n bytes wrapped data key (the key service's CiphertextBlob)
///   kind 1: 32 bytes X25519 public key, 80 bytes crypto_box_seal(data key, public key)
/// u16 count          entries, sorted by the UTF-8 bytes of their names, names unique
///   u8    kind: 0 = sealed variable, 1 = covered plain variable
///   u8 n, n bytes    name (UTF-8, 1 to 255 bytes)
///   4 bytes          variable tag: BLAKE2b-128(tagKey, [kind, name, value])[0..<4]
/// 16 bytes           MAC: BLAKE2b-128(macKey, [everything above, then name_i, value_i
///                    for each entry in order])
/// ```
/// Version 1 (still read, and rewritten as version 2 when written) has no slot list: after the
/// version byte come one key-service slot's flags and fields, as kind 0 above.
///
/// Each MAC part is fed after its length as a u32 (``BLAKE2b``). A sealed variable's value
/// bytes are its decoded sealed bytes (`iv ‖ ciphertext`); a covered plain variable's are its
/// UTF-8 value. The MAC authenticates the whole set, slots included: no slot can be added,
/// removed or swapped, and no variable removed, added, swapped for an older sealed value, or
/// changed (covered plain ones included) without the data key. The 4-byte tags add no security;
/// they only let an error name the variable that changed.
package struct SealedFileHeader: Sendable, Equatable {
    /// The name of the header variable.
    package static let variableName = "ENVSEAL"
    /// The version every writer writes.
    package static let version: UInt8 = 2
    /// The versions this code reads.
    package static let readableVersions: ClosedRange<UInt8> = 1...2
    /// Bytes of the MAC.
    package static let macByteCount = 16
    /// Bytes of each variable tag.
    package static let tagByteCount = 4

    /// Whether an entry is a sealed variable or a plain one that the MAC covers.
    package enum EntryKind: UInt8, Sendable {
        /// A variable whose value is a ``SealedValue``.
        case sealed = 0
        /// A plain variable whose value the MAC covers.
        case covered = 1
    }

    /// One variable the header covers.
    package struct Entry: Sendable, Equatable {
        package let name: String
        /// Sealed or covered plain.
        package let kind: EntryKind
        /// The 4-byte variable tag.
        package let tag: [UInt8]
    }

    /// The layout version the header was read in or made for (1 or 2).
    package let version: UInt8
    /// The wrapped copies of the data key, in header order; any one opens the file.
    package let slots: [Slot]
    /// The variables covered, sorted by name.
    package let entries: [Entry]
    /// The MAC over the header and every covered variable.
    package let mac: MAC

    /// The values of the variables a header covers, as they stand in the file.
    package struct Variables: Sendable {
        /// Sealed variables: name → sealed text (prefix included).
        package var sealed: [String: String]
        /// Plain variables to cover: name → value.
        package var covered: [String: String]

        package init(sealed: [String: String], covered: [String: String] = [:]) {
            self.sealed = sealed
            self.covered = covered
        }

        /// What `header` covers, as `environment` has it: every sealed-looking value and every
        /// name the header lists, so that ``SealedFileHeader/verify(_:keys:)`` reports a removed,
        /// added or replaced variable by name.
        package init(environment: [String: String], header: SealedFileHeader) {
            var sealed: [String: String] = [:]
            for (name, value) in environment where name != SealedFileHeader.variableName && SealedValue.isSealed(value) {
                sealed[name] = value
            }
            for name in header.sealedNames { sealed[name] = environment[name] }
            var covered: [String: String] = [:]
            for name in header.coveredNames { covered[name] = environment[name] }
            self.init(sealed: sealed, covered: covered)
        }
    }

    /// Builds and MACs a header.
    /// - Parameters:
    ///   - slots: The wrapped copies of the data key (1 to 255, no slot twice).
    ///   - variables: The sealed and covered variables (names unique across both).
    ///   - keys: The file's keys.
    ///   - version: The layout: 2, or 1 only to reproduce a version 1 header (one key-service slot).
    /// - Returns: The header.
    /// - Throws: ``FormatError`` for a name that is empty, longer than 255 bytes, or in both sets;
    ///   a sealed text that is not well formed; a bad or repeated slot; or a field too long for its
    ///   length prefix.
    package static func make(
        slots: [Slot], variables: Variables, keys: SealedFileKeys, version: UInt8 = Self.version
    ) throws(FormatError) -> SealedFileHeader {
        guard readableVersions.contains(version) else { throw FormatError(.unknownVersion(version)) }
        try checkSlots(slots, version: version)
        var values: [(name: String, kind: EntryKind, value: [UInt8])] = []
        for (name, text) in variables.sealed {
            values.append((name, .sealed, try SealedValue.decode(text, name: name)))
        }
        for (name, value) in variables.covered {
            guard variables.sealed[name] == nil else {
                throw FormatError(.invalidField(field: "variable \(name)", reason: "it is both sealed and covered"))
            }
            values.append((name, .covered, Array(value.utf8)))
        }
        values.sort { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
        var entries: [Entry] = []
        for item in values {
            try checkName(item.name)
            entries.append(Entry(name: item.name, kind: item.kind, tag: try tag(item.kind, item.name, item.value, keys)))
        }
        guard entries.count <= 0xFFFF else {
            throw FormatError(.invalidField(field: "header", reason: "a field is longer than its length prefix allows"))
        }
        let body = encodeBody(version: version, slots: slots, entries: entries)
        let mac = try computeMAC(body: body, values: values.map { ($0.name, $0.value) }, keys: keys)
        return SealedFileHeader(version: version, slots: slots, entries: entries, mac: mac)
    }

    /// Builds and MACs a version 2 header with one key-service slot.
    /// - Parameters:
    ///   - keyARN: The master key's ARN to record, or `nil` to save the bytes.
    ///   - context: The context the data key was wrapped with.
    ///   - wrappedDataKey: The wrapped data key (1 to 65,535 bytes).
    ///   - variables: The sealed and covered variables (names unique across both).
    ///   - keys: The file's keys.
    /// - Returns: The header.
    /// - Throws: As ``make(slots:variables:keys:version:)``.
    package static func make(
        keyARN: String?, context: EncryptionContext, wrappedDataKey: [UInt8],
        variables: Variables, keys: SealedFileKeys
    ) throws(FormatError) -> SealedFileHeader {
        try make(slots: [.kms(KMSSlot(keyARN: keyARN, context: context, wrappedDataKey: wrappedDataKey))],
                 variables: variables, keys: keys)
    }

    /// Parses the header variable's value without checking its MAC.
    /// - Parameter text: The value of `ENVSEAL`.
    /// - Throws: ``FormatError`` for bad base64url, an unknown version, unknown flags, a bad,
    ///   repeated or missing slot, a truncated or over-long header, a bad context, or names that
    ///   are empty, not UTF-8, repeated or unsorted.
    package init(parsing text: some StringProtocol) throws(FormatError) {
        var reader = ByteReader(try Base64URL.decode(text, field: "header \(Self.variableName)"))
        let version = try reader.u8("header version")
        guard Self.readableVersions.contains(version) else { throw FormatError(.unknownVersion(version)) }
        self.version = version
        slots = try Self.parseSlots(version: version, from: &reader)
        let count = try reader.u16("entry count")
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for index in 0..<count {
            guard let kind = EntryKind(rawValue: try reader.u8("kind of entry \(index + 1)")) else {
                throw FormatError(.invalidField(field: "kind of entry \(index + 1)", reason: "not 0 or 1"))
            }
            let nameBytes = try reader.take(Int(try reader.u8("name length of entry \(index + 1)")), "name of entry \(index + 1)")
            guard let name = String(validating: nameBytes, as: UTF8.self), !name.isEmpty else {
                throw FormatError(.invalidField(field: "name of entry \(index + 1)", reason: "it is empty or not UTF-8"))
            }
            if let previous = entries.last, !Array(previous.name.utf8).lexicographicallyPrecedes(nameBytes) {
                throw FormatError(.invalidField(field: "name of entry \(index + 1)", reason: "names must be unique and sorted"))
            }
            entries.append(Entry(name: name, kind: kind, tag: try reader.take(Self.tagByteCount, "tag of \(name)")))
        }
        self.entries = entries
        guard let mac = try? MAC(bytes: try reader.take(Self.macByteCount, "header MAC")) else {
            throw FormatError(.truncated(field: "header MAC"))
        }
        self.mac = mac
        try reader.expectEnd()
    }

    private init(version: UInt8, slots: [Slot], entries: [Entry], mac: MAC) {
        self.version = version
        self.slots = slots
        self.entries = entries
        self.mac = mac
    }

    /// The header variable's value: unpadded base64url of the layout above.
    package var text: String {
        Base64URL.encode(Self.encodeBody(version: version, slots: slots, entries: entries) + mac.bytes)
    }

    package var sealedNames: [String] { entries.filter { $0.kind == .sealed }.map(\.name) }
    /// The names of the covered plain variables.
    package var coveredNames: [String] { entries.filter { $0.kind == .covered }.map(\.name) }

    /// Checks that the header lists every one of `names` (its own name aside): what a sealed
    /// *file* must pass, where a variable the header does not cover (`LD_PRELOAD`, `PATH`) would
    /// otherwise reach a process unauthenticated.
    ///
    /// Not for a process environment, where the platform's own variables are never listed.
    /// - Parameter names: Every variable name of the file.
    /// - Throws: ``FormatError`` `.unlistedVariable` naming the first such variable by name.
    package func checkListsEvery(_ names: some Sequence<String>) throws(FormatError) {
        let listed = Set(entries.map(\.name))
        let unlisted = names.filter { $0 != Self.variableName && !listed.contains($0) }
        if let first = unlisted.min(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            throw FormatError(.unlistedVariable(name: first))
        }
    }

    /// Checks that the file's variables are exactly those the header was made for.
    ///
    /// Checks names first (missing or unlisted variables), then the MAC; when the MAC fails, the
    /// variable tags say which variable changed.
    /// - Parameters:
    ///   - variables: The sealed variables found in the file (every value with the sealed prefix,
    ///     and every name the header lists as sealed) and the plain values of the covered names.
    ///   - keys: The file's keys.
    /// - Throws: ``FormatError``: `.missingVariable`, `.unlistedVariable`, `.changedVariable` or
    ///   `.headerMACMismatch`, each naming the variable where one is to blame.
    package func verify(_ variables: Variables, keys: SealedFileKeys) throws(FormatError) {
        let listed = Dictionary(entries.map { ($0.name, $0.kind) }, uniquingKeysWith: { first, _ in first })
        for entry in entries {
            switch entry.kind {
            case .sealed where variables.sealed[entry.name] == nil,
                 .covered where variables.covered[entry.name] == nil:
                throw FormatError(.missingVariable(name: entry.name))
            default:
                break
            }
        }
        for name in variables.sealed.keys.sorted() where listed[name] != .sealed {
            throw FormatError(.unlistedVariable(name: name))
        }
        var values: [(String, [UInt8])] = []
        for entry in entries {
            let value: [UInt8]
            switch entry.kind {
            case .sealed:
                // A listed sealed variable whose value no longer decodes (replaced by plaintext,
                // say) has changed.
                guard let bytes = try? SealedValue.decode(variables.sealed[entry.name]!, name: entry.name) else {
                    throw FormatError(.changedVariable(name: entry.name))
                }
                value = bytes
            case .covered: value = Array(variables.covered[entry.name]!.utf8)
            }
            values.append((entry.name, value))
        }
        let body = Self.encodeBody(version: version, slots: slots, entries: entries)
        if try Self.computeMAC(body: body, values: values, keys: keys) == mac { return }
        for (entry, (_, value)) in zip(entries, values)
        where !ConstantTime.equal(try Self.tag(entry.kind, entry.name, value, keys), entry.tag) {
            throw FormatError(.changedVariable(name: entry.name))
        }
        throw FormatError(.headerMACMismatch)
    }

    /// Verifies the file against the header, then opens every sealed value.
    ///
    /// This is the whole of docs/FORMAT.md's verification, steps 1 to 4.
    /// - Parameters:
    ///   - variables: As for ``verify(_:keys:)``.
    ///   - keys: The file's keys.
    /// - Returns: Every sealed variable's plaintext, in guarded memory, by name (a sealed
    ///   spelling decoded to its value).
    /// - Throws: ``FormatError`` from ``verify(_:keys:)``, or `.valueNotAuthentic` naming the
    ///   first variable (by name) whose value does not open.
    package func open(_ variables: Variables, keys: SealedFileKeys) throws(FormatError) -> [String: SecureBytes] {
        try openValuesAndSpellings(variables, keys: keys).values
    }

    /// Verifies and opens as ``open(_:keys:)``, and also returns the spellings of the variables
    /// sealed as spellings (`es2:`, see ``SealedValue``), which writing the plain file needs.
    /// - Parameters:
    ///   - variables: As for ``verify(_:keys:)``.
    ///   - keys: The file's keys.
    /// - Returns: Every sealed variable's value, and the spelling of those sealed as spellings.
    /// - Throws: As ``open(_:keys:)``, and `.invalidField` for a spelling that opens but is not
    ///   exactly one dotenv value (only a faulty sealer can write one).
    package func openValuesAndSpellings(
        _ variables: Variables, keys: SealedFileKeys
    ) throws(FormatError) -> (values: [String: SecureBytes], spellings: [String: SecureBytes]) {
        try verify(variables, keys: keys)
        // All the values in one guarded allocation; when one does not open, open them one by
        // one to name the first that fails.
        let names = sealedNames
        var items: [(sealed: [UInt8], associatedData: [UInt8])] = []
        items.reserveCapacity(names.count)
        for name in names {
            let text = variables.sealed[name]!
            items.append((try SealedValue.decode(text, name: name), SealedValue.associatedData(of: text, name: name)))
        }
        let plaintexts: [SecureBytes]
        do {
            plaintexts = try XChaCha20SIV.open(all: items, keys: keys.valueKeys)
        } catch {
            for name in names {
                _ = try SealedValue.open(variables.sealed[name]!, name: name, keys: keys)
            }
            throw FormatError(.invalidField(field: "sealed values", reason: error.description))
        }
        var values = Dictionary(uniqueKeysWithValues: zip(names, plaintexts))
        var spellings: [String: SecureBytes] = [:]
        for name in names where SealedValue.isSpelling(variables.sealed[name]!) {
            let spelling = values[name]!
            values[name] = try Self.value(ofSpelling: spelling, name: name)
            spellings[name] = spelling
        }
        return (values, spellings)
    }

    /// Decodes an opened spelling into its value, in guarded memory.
    static func value(ofSpelling spelling: SecureBytes, name: String) throws(FormatError) -> SecureBytes {
        let invalid = FormatError(.invalidField(field: "sealed spelling of \(name)", reason: "it is not exactly one dotenv value"))
        // The parser works on an array and strings: best-effort wiping of the copy, as for any
        // plain file the dotenv code reads.
        var bytes = spelling.withUnsafeBytes { Array($0) }
        defer { bytes.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        guard let (value, _) = DotenvFile.value(ofSpelling: bytes) else { throw invalid }
        do {
            return try SecureBytes(utf8: value)
        } catch {
            throw FormatError(.invalidField(field: "sealed spelling of \(name)", reason: error.description))
        }
    }

    static func checkName(_ name: String) throws(FormatError) {
        guard (1...255).contains(name.utf8.count) else {
            throw FormatError(.invalidField(field: "variable name", reason: "\(name.utf8.count) bytes is not 1 to 255"))
        }
    }

    static func encodeBody(version: UInt8, slots: [Slot], entries: [Entry]) -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(version)
        encodeSlots(slots, version: version, into: &writer)
        writer.u16(entries.count)
        for entry in entries {
            writer.u8(entry.kind.rawValue)
            writer.u8(UInt8(entry.name.utf8.count))
            writer.append(entry.name.utf8)
            writer.append(entry.tag)
        }
        return writer.bytes
    }

    static func computeMAC(body: [UInt8], values: [(String, [UInt8])], keys: SealedFileKeys) throws(FormatError) -> MAC {
        var parts: [BLAKE2b.Part] = [.bytes(body)]
        for (name, value) in values {
            parts.append(.bytes(Array(name.utf8)))
            parts.append(.bytes(value))
        }
        do {
            return try BLAKE2b.mac(key: keys.headerMACKey, outputByteCount: macByteCount, parts: parts)
        } catch {
            throw FormatError(.invalidField(field: "header", reason: error.description))
        }
    }

    static func tag(_ kind: EntryKind, _ name: String, _ value: [UInt8], _ keys: SealedFileKeys) throws(FormatError) -> [UInt8] {
        do {
            let full = try BLAKE2b.mac(key: keys.variableTagKey, outputByteCount: 16,
                                       parts: [.bytes([kind.rawValue]), .bytes(Array(name.utf8)), .bytes(value)])
            return Array(full.bytes.prefix(tagByteCount))
        } catch {
            throw FormatError(.invalidField(field: "variable \(name)", reason: error.description))
        }
    }
}
