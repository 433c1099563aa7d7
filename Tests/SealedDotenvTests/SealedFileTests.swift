import EnvSealFormat
import Foundation
import KMSWire
import KeyService
import SealedDotenv
import SodiumKit
import Testing

let sample = """
# billing service
export DB_PASSWORD="s3cr3t pass#word"
API_KEY=ak_live_0123456789abcdef # inline comment
LOG_LEVEL=info
MULTI="line one
line two"
EMPTY=

"""

@Suite struct SealedFileTests {
    @Test func sealAndOpenWithOneUnwrap() async throws {
        let f = try await Fixture()
        let context = try EncryptionContext(["app": "billing"])
        let selection = try VariableSelection(only: "PASSWORD|KEY|MULTI|EMPTY", except: nil)
        let sealed = try await f.sealer.seal(try parse(sample), keyID: f.keyARN, context: context, selection: selection)
        let rendered = text(sealed)
        #expect(!rendered.contains("s3cr3t"))
        #expect(!rendered.contains("ak_live"))
        #expect(rendered.contains("LOG_LEVEL=info"))
        #expect(rendered.contains("# billing service"))
        #expect(rendered.contains("export DB_PASSWORD=\"es1:"))
        #expect(sealed.value(of: "ENVSEAL") != nil)
        #expect(f.transport.count(.generateDataKey) == 1)

        let opened = try await f.sealer.open(try parse(rendered))
        #expect(f.transport.count(.decrypt) == 1)
        #expect(plaintexts(opened) == ["DB_PASSWORD": "s3cr3t pass#word", "API_KEY": "ak_live_0123456789abcdef",
                                       "MULTI": "line one\nline two", "EMPTY": ""])
        #expect(opened.coveredNames == ["LOG_LEVEL"])
        #expect(opened.keyARN == f.keyARN)
        #expect(opened.header.kmsSlots[0].context == context)
    }

    @Test func decryptGivesBackEveryValueAndLine() async throws {
        let f = try await Fixture()
        let original = try parse(sample)
        let sealed = try await f.sealer.seal(original, keyID: f.keyARN, context: .empty, selection: .all)
        let plain = try await f.sealer.decrypt(sealed)
        #expect(plain.names == original.names)
        for name in original.names { #expect(plain.value(of: name) == original.value(of: name)) }
        #expect(text(plain).contains("# billing service"))
        #expect(text(plain).contains("# inline comment"))
        #expect(plain.value(of: "ENVSEAL") == nil)
    }

    @Test func setKeepsEveryOtherCiphertext() async throws {
        let f = try await Fixture()
        let sealed = try await f.sealer.seal(try parse(sample), keyID: f.keyARN, context: .empty, selection: .all)
        let edited = try await f.sealer.set("API_KEY", to: try SecureBytes(utf8: "ak_live_rotated_value"), in: sealed)
        for name in ["DB_PASSWORD", "MULTI", "EMPTY", "LOG_LEVEL"] {
            #expect(edited.value(of: name) == sealed.value(of: name), "\(name) changed")
        }
        #expect(edited.value(of: "API_KEY") != sealed.value(of: "API_KEY"))
        // Only the changed line and the header differ.
        let before = text(sealed).split(separator: "\n", omittingEmptySubsequences: false)
        let after = text(edited).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(before.count == after.count)
        #expect(zip(before, after).filter { $0 != $1 }.count == 2)
        let opened = try await f.sealer.open(edited)
        #expect(plaintexts(opened)["API_KEY"] == "ak_live_rotated_value")

        // Setting the same value again changes nothing but nothing at all (SIV is deterministic).
        let again = try await f.sealer.set("API_KEY", to: try SecureBytes(utf8: "ak_live_rotated_value"), in: edited)
        #expect(text(again) == text(edited))

        // A new variable, and a covered plain one becoming sealed.
        let added = try await f.sealer.set("NEW_TOKEN", to: try SecureBytes(utf8: "tok_abcdefgh"), in: again)
        let both = try await f.sealer.set("LOG_LEVEL", to: try SecureBytes(utf8: "debug"), in: added)
        let reopened = try await f.sealer.open(both)
        #expect(plaintexts(reopened)["NEW_TOKEN"] == "tok_abcdefgh")
        #expect(plaintexts(reopened)["LOG_LEVEL"] == "debug")
        #expect(reopened.coveredNames.isEmpty)
    }

    @Test func unsetRemovesAndStillVerifies() async throws {
        let f = try await Fixture()
        let sealed = try await f.sealer.seal(try parse(sample), keyID: f.keyARN, context: .empty, selection: .all)
        let edited = try await f.sealer.unset("MULTI", in: sealed)
        #expect(edited.value(of: "MULTI") == nil)
        let opened = try await f.sealer.open(edited)
        #expect(opened.values["MULTI"] == nil)
        #expect(opened.values.count == 4)
        let missing = await thrown { _ = try await f.sealer.unset("NOPE", in: edited) }
        #expect((missing as? SealedFileError)?.kind == .noSuchVariable(name: "NOPE"))
    }

    @Test func rotateReSealsUnderTheNewestVersion() async throws {
        let f = try await Fixture()
        let sealed = try await f.sealer.seal(try parse(sample), keyID: f.keyARN, context: .empty, selection: .all)
        _ = try await f.engine.rotateKeyOnDemand(.init(keyId: f.keyARN), by: f.admin)
        let rotated = try await f.sealer.rotate(sealed)
        for name in ["DB_PASSWORD", "API_KEY", "MULTI"] { #expect(rotated.value(of: name) != sealed.value(of: name)) }
        let oldHeader = try SealedFileHeader(parsing: sealed.value(of: "ENVSEAL")!)
        let newHeader = try SealedFileHeader(parsing: rotated.value(of: "ENVSEAL")!)
        #expect(try CiphertextBlob(parsing: oldHeader.kmsSlots[0].wrappedDataKey).keyVersion == 1)
        #expect(try CiphertextBlob(parsing: newHeader.kmsSlots[0].wrappedDataKey).keyVersion == 2)
        #expect(plaintexts(try await f.sealer.open(rotated)) == plaintexts(try await f.sealer.open(sealed)))
    }

    @Test func rewrapChangesOnlyTheHeader() async throws {
        let f = try await Fixture()
        let sealed = try await f.sealer.seal(try parse(sample), keyID: f.keyARN, context: .empty, selection: .all)
        let other = try await f.newKey()
        let rewrapped = try await f.sealer.rewrap(sealed, destinationKeyID: other)
        #expect(f.transport.count(.reEncrypt) == 1)
        for name in sealed.names where name != "ENVSEAL" { #expect(rewrapped.value(of: name) == sealed.value(of: name)) }
        #expect(rewrapped.value(of: "ENVSEAL") != sealed.value(of: "ENVSEAL"))
        let opened = try await f.sealer.open(rewrapped)
        #expect(opened.keyARN == other)
        #expect(plaintexts(opened)["DB_PASSWORD"] == "s3cr3t pass#word")
    }

    @Test func duplicateNamesAreRefused() async throws {
        let f = try await Fixture()
        let error = await thrown {
            _ = try await f.sealer.seal(try parse("A=1\nA=2\n"), keyID: f.keyARN, context: .empty, selection: .all)
        }
        #expect((error as? SealedFileError)?.kind == .duplicateVariable(name: "A"))
        #expect(f.transport.total() == 0)
    }

    @Test func selectionPatterns() throws {
        let selection = try VariableSelection(only: "(PASSWORD|KEY)$", except: "^PUBLIC_")
        #expect(selection.includes("DB_PASSWORD"))
        #expect(selection.includes("API_KEY"))
        #expect(!selection.includes("PUBLIC_KEY"))
        #expect(!selection.includes("LOG_LEVEL"))
        #expect(throws: SealedFileError.self) { _ = try VariableSelection(only: "([", except: nil) }
    }

    @Test func alreadySealedAndNotSealed() async throws {
        let f = try await Fixture()
        let sealed = try await f.sealer.seal(try parse(sample), keyID: f.keyARN, context: .empty, selection: .all)
        let again = await thrown { _ = try await f.sealer.seal(sealed, keyID: f.keyARN, context: .empty, selection: .all) }
        #expect((again as? SealedFileError)?.kind == .alreadySealed)
        let plain = await thrown { _ = try await f.sealer.open(try parse(sample)) }
        #expect((plain as? SealedFileError)?.kind == .notSealed)
    }
}

@Suite struct ResealTests {
    @Test func editKeepsUnchangedCiphertextsAndCoveredStaysPlain() async throws {
        let f = try await Fixture()
        let sealed = try await f.sealer.seal(try parse(sample), keyID: f.keyARN, context: .empty,
                                             selection: try VariableSelection(only: nil, except: "LOG_LEVEL"))
        var plain = try await f.sealer.decrypt(sealed)
        try plain.set("API_KEY", to: "ak_live_changed_by_hand")
        try plain.set("LOG_LEVEL", to: "debug")
        try plain.set("ADDED_TOKEN", to: "tok_0123456789")
        plain.remove("EMPTY")
        let resealed = try await f.sealer.reseal(plain, from: sealed)
        #expect(resealed.value(of: "DB_PASSWORD") == sealed.value(of: "DB_PASSWORD"))
        #expect(resealed.value(of: "MULTI") == sealed.value(of: "MULTI"))
        #expect(resealed.value(of: "LOG_LEVEL") == "debug")
        #expect(resealed.value(of: "EMPTY") == nil)
        let opened = try await f.sealer.open(resealed)
        #expect(plaintexts(opened)["API_KEY"] == "ak_live_changed_by_hand")
        #expect(plaintexts(opened)["ADDED_TOKEN"] == "tok_0123456789")
        #expect(opened.coveredNames == ["LOG_LEVEL"])
    }
}
