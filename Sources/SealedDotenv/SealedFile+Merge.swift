package import EnvSealFormat
import Foundation
import SodiumKit

extension SealedFile {
    /// The result of a three-way merge of sealed files: the merged file, and the variables both
    /// sides changed differently.
    package struct MergeResult: Sendable {
        /// The merged file, sealed under the current side's data key and MACed. A conflicting
        /// variable keeps the current side's value (or its absence).
        package let file: DotenvFile
        /// The variables changed differently on both sides (or changed on one, removed on the
        /// other), sorted; empty for a clean merge.
        package let conflicts: [String]
        /// Why the other side's changes to the key slots could not be merged (the merged file
        /// then keeps the current side's slots), or `nil` when they were.
        package let slotConflict: String?

        /// Whether anything was left unmerged.
        package var isClean: Bool { conflicts.isEmpty && slotConflict == nil }
    }

    /// Merges two sealed versions of a file against their common ancestor, variable by variable,
    /// as git's merge driver needs (docs/CLI.md, `envseal git merge`).
    ///
    /// Each version is opened and verified (one Decrypt each): the sides may have different data
    /// keys, after a `rotate` on one branch. A variable takes the side that changed it from the
    /// ancestor (added, removed, changed) or the value both sides agree on; a variable both sides
    /// changed differently is a conflict and keeps the current side's state. The result keeps the
    /// current side's lines, is sealed under its data key (an unchanged value keeps its exact
    /// ciphertext) and gets a new MAC. Key slots merge as a set (``mergedSlots(base:ours:theirs:)``):
    /// a slot the other side added is kept, and one it removed (a key revoked there) is removed.
    /// - Parameters:
    ///   - base: The common ancestor, or `nil` when there is none (both sides added the file). It
    ///     may be a plain file (the file was sealed after it), whose variables count as plain.
    ///   - current: The current side (git's `%A`), sealed.
    ///   - other: The other side (git's `%B`), sealed.
    /// - Returns: The merged file and the conflicting variables.
    /// - Throws: As ``open(_:expecting:)`` for any of the three.
    package func merge(base: DotenvFile?, current: DotenvFile, other: DotenvFile) async throws -> MergeResult {
        let ours = try await open(current)
        let theirs = try await open(other)
        let ancestor: [String: MergeValue]
        if let base, !base.assignments.isEmpty {
            if base.value(of: SealedFileHeader.variableName) == nil {
                ancestor = try Self.variables(of: base).mapValues { MergeValue.plain($0) }
            } else {
                ancestor = Self.mergeValues(try await open(base), file: base)
            }
        } else {
            ancestor = [:]
        }
        let mine = Self.mergeValues(ours, file: current)
        let yours = Self.mergeValues(theirs, file: other)
        let otherAssignments = Self.assignments(of: other)

        var variables = ours.variables
        var edited = current
        var conflicts: [String] = []
        var plainSpellings: [(name: String, spelling: String)] = []
        var additions = false
        for name in Set(mine.keys).union(yours.keys).union(ancestor.keys).sorted() {
            let (o, a, b) = (ancestor[name], mine[name], yours[name])
            if a == b || b == o { continue }  // the current side already holds the result
            guard a == o else {
                conflicts.append(name)
                continue
            }
            // Only the other side changed it: take the other side's state.
            variables.sealed[name] = nil
            variables.covered[name] = nil
            switch b {
            case nil:
                edited.remove(name)
            case .sealed(let value, let isSpelling):
                variables.sealed[name] = isSpelling
                    ? try SealedValue.sealSpelling(value, name: name, keys: ours.keys)
                    : try Self.sealValue(value, name: name, keys: ours.keys)
                if a == nil { additions = true }
            case .plain(let value):
                variables.covered[name] = value
                plainSpellings.append((name, otherAssignments[name]?.rawValue ?? value))
                if a == nil { additions = true }
            }
        }
        // Added variables are appended; the header goes after them, at the end, as it was.
        if additions { edited.remove(SealedFileHeader.variableName) }
        try edited.set(spellings: plainSpellings)
        let baseSlots = base.flatMap { $0.value(of: SealedFileHeader.variableName) }.flatMap { try? SealedFileHeader(parsing: $0) }?.slots ?? []
        let (slots, slotConflict) = Self.mergedSlots(base: baseSlots, ours: ours, theirs: theirs)
        let merged = try Self.write(into: edited, slots: slots, variables: variables, keys: ours.keys)
        return MergeResult(file: merged, conflicts: conflicts, slotConflict: slotConflict)
    }

    /// The key slots of a merge: the current side's, less those the other side removed since the
    /// ancestor, plus those it added. Slots are told apart by what opens them: a KMS slot by its
    /// key's id (from the recorded ARN, or from an envseal ciphertext; else its wrapped bytes) and
    /// context, a recipient slot by its public key. A copy of a slot that records the key ARN is
    /// preferred to one that does not.
    ///
    /// Without an ancestor header the current side's slots are kept, as they were. When the other
    /// side changed the slots but the sides have different data keys (a `rotate` on one of them,
    /// so the other side's slots wrap another data key), or the merge would leave no slot or too
    /// many, the current side's slots are kept and the reason is returned.
    static func mergedSlots(
        base: [SealedFileHeader.Slot], ours: OpenedFile, theirs: OpenedFile
    ) -> (slots: [SealedFileHeader.Slot], conflict: String?) {
        let mine = ours.header.slots, yours = theirs.header.slots
        guard !base.isEmpty else { return (mine, nil) }
        let ancestor = Set(base.map(slotIdentity)), myIDs = Set(mine.map(slotIdentity)), theirIDs = Set(yours.map(slotIdentity))
        let removed = ancestor.subtracting(theirIDs)
        let added = yours.filter { !ancestor.contains(slotIdentity($0)) && !myIDs.contains(slotIdentity($0)) }
        guard mine.contains(where: { removed.contains(slotIdentity($0)) }) || !added.isEmpty else { return (mine, nil) }
        guard ours.dataKey.secureBytes == theirs.dataKey.secureBytes else {
            return (mine, "the other side changed the key slots, and the two sides have different data keys (one was rotated)")
        }
        let theirCopies = Dictionary(yours.map { (slotIdentity($0), $0) }, uniquingKeysWith: { first, _ in first })
        var slots = mine.filter { !removed.contains(slotIdentity($0)) }.map { slot -> SealedFileHeader.Slot in
            // The same slot as the other side holds it, with the ARN it may have recorded since.
            if case .kms(let kms) = slot, kms.keyARN == nil, case .kms(let copy)? = theirCopies[slotIdentity(slot)],
               copy.keyARN != nil, copy.wrappedDataKey == kms.wrappedDataKey {
                return .kms(copy)
            }
            return slot
        }
        slots += added
        guard !slots.isEmpty else {
            return (mine, "each side removed the other side's remaining key slots, which would leave the file no slot")
        }
        guard slots.count <= SealedFileHeader.maxSlotCount else {
            return (mine, "the merged file would have \(slots.count) key slots, more than \(SealedFileHeader.maxSlotCount)")
        }
        return (slots, nil)
    }

    /// What opens a slot, for telling slots apart across versions of a file.
    static func slotIdentity(_ slot: SealedFileHeader.Slot) -> [UInt8] {
        switch slot {
        case .recipient(let recipient):
            return [1] + recipient.publicKey
        case .kms(let kms):
            let fromARN = kms.keyARN.flatMap { arn in arn.range(of: ":key/").map { String(arn[$0.upperBound...]).lowercased() } }
            let fromBlob = (try? CiphertextBlob(parsing: kms.wrappedDataKey))?.keyID.uuidString.lowercased()
            let key = (fromARN ?? fromBlob).map { Array($0.utf8) } ?? kms.wrappedDataKey
            return [0] + withUnsafeBytes(of: UInt32(key.count).bigEndian, Array.init) + key + kms.context.canonicalBytes
        }
    }

    /// A variable's state, compared across the versions of a merge.
    enum MergeValue: Equatable {
        /// A sealed value, or the sealed spelling of one (`es2:`), in guarded memory.
        case sealed(SecureBytes, isSpelling: Bool)
        /// A plain variable's value.
        case plain(String)

        /// Byte for byte, as the file holds them (not canonically equivalent text).
        static func == (lhs: Self, rhs: Self) -> Bool {
            switch (lhs, rhs) {
            case let (.sealed(a, aSpelling), .sealed(b, bSpelling)): aSpelling == bSpelling && a == b
            case let (.plain(a), .plain(b)): a.utf8.elementsEqual(b.utf8)
            default: false
            }
        }
    }

    /// Every variable of an opened file as merge values.
    static func mergeValues(_ opened: OpenedFile, file: DotenvFile) -> [String: MergeValue] {
        var values: [String: MergeValue] = [:]
        for (name, value) in opened.values {
            if let spelling = opened.spellings[name] {
                values[name] = .sealed(spelling, isSpelling: true)
            } else {
                values[name] = .sealed(value, isSpelling: false)
            }
        }
        for name in opened.coveredNames {
            if let value = file.value(of: name) { values[name] = .plain(value) }
        }
        return values
    }
}
