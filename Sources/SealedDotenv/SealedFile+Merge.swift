package import EnvSealFormat
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
    }

    /// Merges two sealed versions of a file against their common ancestor, variable by variable,
    /// as git's merge driver needs (docs/CLI.md, `envseal git merge`).
    ///
    /// Each version is opened and verified (one Decrypt each): the sides may have different data
    /// keys, after a `rotate` on one branch. A variable takes the side that changed it from the
    /// ancestor (added, removed, changed) or the value both sides agree on; a variable both sides
    /// changed differently is a conflict and keeps the current side's state. The result keeps the
    /// current side's lines and header fields, is sealed under its data key (an unchanged value
    /// keeps its exact ciphertext) and gets a new MAC.
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
        let merged = try Self.write(into: edited, slots: ours.header.slots, variables: variables, keys: ours.keys)
        return MergeResult(file: merged, conflicts: conflicts)
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
