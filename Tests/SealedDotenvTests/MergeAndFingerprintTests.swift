import EnvSealFormat
import Foundation
import KMSWire
import KeyService
import SealedDotenv
import SodiumKit
import Testing

@Suite struct MergeTests {
    /// A sealed base with LOG_LEVEL plain, and helpers to derive the two sides.
    struct Versions {
        let f: Fixture
        let base: DotenvFile

        init() async throws {
            f = try await Fixture()
            base = try await f.sealer.seal(try parse("A=alpha\nB=bravo\nC=\"it's \\u00e9\"\nLOG_LEVEL=info\n"), keyID: f.keyARN,
                                           context: .empty, selection: try VariableSelection(only: nil, except: "^LOG_LEVEL$"))
        }

        func set(_ file: DotenvFile, _ name: String, _ value: String) async throws -> DotenvFile {
            try await f.sealer.set(name, to: try SecureBytes(utf8: value), in: file)
        }
    }

    @Test func mergesChangesFromBothSidesUnderTheCurrentDataKey() async throws {
        let v = try await Versions()
        let ours = try await v.set(try await v.f.sealer.unset("B", in: v.base), "NEW_OURS", "o")
        let theirs = try await v.set(try await v.set(v.base, "A", "alpha-2"), "NEW_THEIRS", "t")
        let result = try await v.f.sealer.merge(base: v.base, current: ours, other: theirs)
        #expect(result.conflicts.isEmpty)
        let opened = try await v.f.sealer.open(result.file)
        #expect(plaintexts(opened).filter { $0.key != "C" } == ["A": "alpha-2", "NEW_OURS": "o", "NEW_THEIRS": "t"])
        #expect(result.file.value(of: "LOG_LEVEL") == "info")
        // The current side's data key: its unchanged values keep their exact ciphertext.
        #expect(result.file.value(of: "NEW_OURS") == ours.value(of: "NEW_OURS"))
        #expect(result.file.value(of: "C") == ours.value(of: "C"))
        #expect(try SealedFileHeader(parsing: result.file.value(of: "ENVSEAL")!).kmsSlots[0].wrappedDataKey
            == (try SealedFileHeader(parsing: ours.value(of: "ENVSEAL")!).kmsSlots[0].wrappedDataKey))
        #expect(result.file.names.last == "ENVSEAL")
        // The spelling of C (es2:) survives, and decrypting gives its line back.
        #expect(try await v.f.sealer.decrypt(result.file).assignments.first { $0.name == "C" }?.rawValue == "\"it's \\u00e9\"")
    }

    @Test func identicalChangesOnBothSidesAndAPlainVariableFromTheOtherSide() async throws {
        let v = try await Versions()
        let ours = try await v.set(v.base, "A", "same")
        var theirsPlain = try await v.f.sealer.decrypt(try await v.set(v.base, "A", "same"))
        try theirsPlain.set("LOG_LEVEL", to: "debug")
        let theirs = try await v.f.sealer.reseal(theirsPlain, from: v.base)
        let result = try await v.f.sealer.merge(base: v.base, current: ours, other: theirs)
        #expect(result.conflicts.isEmpty)
        #expect(result.file.value(of: "LOG_LEVEL") == "debug")
        #expect(plaintexts(try await v.f.sealer.open(result.file))["A"] == "same")
    }

    @Test func differentDataKeysAfterARotationOnTheOtherSide() async throws {
        let v = try await Versions()
        let theirs = try await v.set(try await v.f.sealer.rotate(v.base), "B", "bravo-rotated")
        let ours = try await v.set(v.base, "A", "alpha-ours")
        let result = try await v.f.sealer.merge(base: v.base, current: ours, other: theirs)
        #expect(result.conflicts.isEmpty)
        let opened = try await v.f.sealer.open(result.file)
        #expect(plaintexts(opened)["A"] == "alpha-ours")
        #expect(plaintexts(opened)["B"] == "bravo-rotated")
        // Every value the rotation changed in ciphertext only is ours, unchanged.
        #expect(result.file.value(of: "C") == ours.value(of: "C"))
    }

    @Test("a key slot the other side added is kept, and one it removed (a revoked key) is removed")
    func keySlotsMergeAsASet() async throws {
        let v = try await Versions()
        let second = try await v.f.newKey(), third = try await v.f.newKey()
        func arns(_ file: DotenvFile) throws -> [String?] { try SealedFileHeader(parsing: file.value(of: "ENVSEAL")!).kmsSlots.map(\.keyARN) }
        // Added on the other side, a value changed on this one.
        let theirs = try await v.f.sealer.addSlots(to: v.base, for: [.kms(keyID: second, context: .empty)])
        let ours = try await v.set(v.base, "A", "alpha-ours")
        let added = try await v.f.sealer.merge(base: v.base, current: ours, other: theirs)
        #expect(added.isClean)
        #expect(try arns(added.file) == [v.f.keyARN, second])
        // The added key alone opens the merged file.
        try await v.f.engine.disableKey(.init(keyId: v.f.keyARN), by: v.f.admin)
        #expect(plaintexts(try await v.f.sealer.open(added.file))["A"] == "alpha-ours")
        try await v.f.engine.enableKey(.init(keyId: v.f.keyARN), by: v.f.admin)

        // Removed on the other side: the revoked key does not come back with this side's edit.
        let both = try await v.f.sealer.addSlots(to: v.base, for: [.kms(keyID: second, context: .empty), .kms(keyID: third, context: .empty)])
        let revoked = try await v.f.sealer.removeSlots(from: both, matching: .keyARN(second)).file
        let edited = try await v.set(both, "B", "bravo-ours")
        let removed = try await v.f.sealer.merge(base: both, current: edited, other: revoked)
        #expect(removed.isClean)
        #expect(try arns(removed.file) == [v.f.keyARN, third])

        // The other side rotated and added a slot: its slots wrap another data key, so this side's
        // slots stay and the merge says why.
        let rotated = try await v.f.sealer.addSlots(to: try await v.f.sealer.rotate(v.base), for: [.kms(keyID: third, context: .empty)])
        let refused = try await v.f.sealer.merge(base: v.base, current: ours, other: rotated)
        #expect(refused.slotConflict?.contains("different data keys") == true)
        #expect(!refused.isClean && refused.conflicts.isEmpty)
        #expect(try arns(refused.file) == [nil])
    }

    @Test func conflictsAreNamedAndKeepTheCurrentSide() async throws {
        let v = try await Versions()
        let ours = try await v.set(try await v.set(v.base, "A", "ours"), "BOTH_ADDED", "x")
        let theirs = try await v.set(try await v.set(try await v.f.sealer.unset("B", in: try await v.set(v.base, "A", "theirs")), "BOTH_ADDED", "y"), "C", "changed")
        let oursWithB = try await v.set(ours, "B", "ours-b")
        let result = try await v.f.sealer.merge(base: v.base, current: oursWithB, other: theirs)
        // A: changed differently; B: changed here, removed there; BOTH_ADDED: added differently.
        #expect(result.conflicts == ["A", "B", "BOTH_ADDED"])
        let values = plaintexts(try await v.f.sealer.open(result.file))
        #expect(values["A"] == "ours" && values["B"] == "ours-b" && values["BOTH_ADDED"] == "x")
        #expect(values["C"] == "changed")
    }

    @Test func noAncestorAndAPlainAncestor() async throws {
        let v = try await Versions()
        let ours = try await v.set(v.base, "A", "ours")
        let none = try await v.f.sealer.merge(base: nil, current: ours, other: v.base)
        #expect(none.conflicts == ["A"])
        let plainBase = try parse("A=alpha\nB=bravo\n")
        let fromPlain = try await v.f.sealer.merge(base: plainBase, current: ours, other: v.base)
        // B went from plain to sealed identically on both sides; A differs on both from the plain A.
        #expect(fromPlain.conflicts.contains("A"))
        #expect(!fromPlain.conflicts.contains("B"))
    }

    @Test func aTamperedSideIsRefused() async throws {
        let v = try await Versions()
        var theirs = try await v.set(v.base, "A", "theirs")
        try theirs.set("LOG_LEVEL", to: "edited-without-the-key")
        let error = await thrown { _ = try await v.f.sealer.merge(base: v.base, current: v.base, other: theirs) }
        #expect((error as? FormatError)?.isTampering == true)
    }
}

@Suite struct FingerprintViewTests {
    @Test func markersChangeExactlyWithTheirValueAndShowNoPlaintext() async throws {
        let f = try await Fixture()
        let sealed = try await f.sealer.seal(try parse("A=secret-a\nB=secret-b\nPLAIN=visible\n"), keyID: f.keyARN, context: .empty,
                                             selection: try VariableSelection(only: "^[AB]$", except: nil))
        let edited = try await f.sealer.set("A", to: try SecureBytes(utf8: "secret-a2"), in: sealed)
        let before = text(try SealedFile.fingerprintView(of: sealed))
        let after = text(try SealedFile.fingerprintView(of: edited))
        for secret in ["secret-a", "secret-b"] { #expect(!before.contains(secret) && !after.contains(secret)) }
        let beforeLines = before.split(separator: "\n")
        let afterLines = after.split(separator: "\n")
        #expect(beforeLines.count == 4)
        #expect(beforeLines[0].hasPrefix("A=sealed:") && beforeLines[0].count == "A=sealed:".count + 12)
        #expect(beforeLines[0] != afterLines[0])  // A changed
        #expect(beforeLines[1] == afterLines[1])  // B did not
        #expect(beforeLines[2] == "PLAIN=visible")
        #expect(beforeLines[3].hasPrefix("ENVSEAL=data-key:") && beforeLines[3] == afterLines[3])  // same data key
        // Setting A back gives the same ciphertext, so the same marker: the value, not the edit, counts.
        let back = try await f.sealer.set("A", to: try SecureBytes(utf8: "secret-a"), in: edited)
        #expect(text(try SealedFile.fingerprintView(of: back)) == before)
        // A new data key changes every marker and the ENVSEAL line.
        let rotated = text(try SealedFile.fingerprintView(of: try await f.sealer.rotate(sealed))).split(separator: "\n")
        #expect(rotated[0] != beforeLines[0] && rotated[1] != beforeLines[1] && rotated[3] != beforeLines[3])
    }

    @Test func aMalformedSealedValueIsAnError() throws {
        #expect(throws: FormatError.self) { try SealedFile.fingerprintView(of: try parse("A=es1:!!!\n")) }
        #expect(try text(SealedFile.fingerprintView(of: try parse("A=1\n# c\n"))) == "A=1\n# c\n")
    }
}
