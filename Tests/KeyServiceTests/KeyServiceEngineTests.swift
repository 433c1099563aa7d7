import Foundation
import KMSWire
import Testing
@testable import KeyService

@Suite("key service semantics")
struct KeyServiceEngineTests {
    @Test("encryption context must match exactly, or Decrypt fails as InvalidCiphertext")
    func contextMustMatch() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let blob = try await f.encrypt("s3cret", key: key, context: ["LambdaFunctionName": "billing"])
        #expect(try await f.decrypt(blob, context: ["LambdaFunctionName": "billing"]) == "s3cret")
        for wrong: [String: String]? in [nil, [:], ["LambdaFunctionName": "Billing"], ["LambdaFunctionName": "billing", "x": "y"]] {
            #expect(await kmsError { _ = try await f.decrypt(blob, context: wrong) } == .invalidCiphertext)
        }
    }

    @Test("a tampered byte anywhere in a ciphertext is InvalidCiphertext; garbage too")
    func tampered() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let blob = try await f.encrypt("s3cret", key: key)
        for index in [0, 1, 20, 30, 50, blob.count - 1] {
            var bad = blob
            bad[index] ^= 0x01
            let error = await kmsError { _ = try await f.decrypt(bad) }
            #expect(error == .invalidCiphertext, "byte \(index): \(String(describing: error))")
        }
        #expect(await kmsError { _ = try await f.decrypt(Data("not a ciphertext".utf8)) } == .invalidCiphertext)
    }

    @Test("Decrypt naming another key is IncorrectKey; naming the right key by alias works")
    func incorrectKey() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let a = try await f.newKey(), b = try await f.newKey()
        try await f.kms.createAlias(.init(aliasName: "alias/a", targetKeyId: a), by: f.admin)
        let blob = try await f.encrypt("x", key: a)
        #expect(await kmsError { _ = try await f.decrypt(blob, keyId: b) } == .incorrectKey)
        #expect(try await f.decrypt(blob, keyId: "alias/a") == "x")
    }

    @Test("a disabled key refuses cryptography with DisabledException until enabled")
    func disabled() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let blob = try await f.encrypt("x", key: key)
        try await f.kms.disableKey(.init(keyId: key), by: f.admin)
        #expect(await kmsError { _ = try await f.encrypt("x", key: key) } == .disabled)
        #expect(await kmsError { _ = try await f.decrypt(blob) } == .disabled)
        #expect(await kmsError { _ = try await f.kms.generateDataKey(.init(keyId: key, keySpec: .aes256), by: f.admin) } == .disabled)
        let described = try await f.kms.describeKey(.init(keyId: key), by: f.admin)
        #expect(described.keyMetadata?.keyState == .disabled && described.keyMetadata?.enabled == false)
        try await f.kms.enableKey(.init(keyId: key), by: f.admin)
        #expect(try await f.decrypt(blob) == "x")
    }

    @Test("PendingDeletion refuses with KMSInvalidState; CancelKeyDeletion leaves the key Disabled")
    func pendingDeletion() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let blob = try await f.encrypt("x", key: key)
        let scheduled = try await f.kms.scheduleKeyDeletion(.init(keyId: key, pendingWindowInDays: 7), by: f.admin)
        #expect(scheduled.keyState == .pendingDeletion && scheduled.pendingWindowInDays == 7)
        #expect(await kmsError { _ = try await f.decrypt(blob) } == .kmsInvalidState)
        #expect(await kmsError { _ = try await f.encrypt("x", key: key) } == .kmsInvalidState)
        #expect(await kmsError { try await f.kms.enableKey(.init(keyId: key), by: f.admin) } == .kmsInvalidState)
        #expect(await kmsError { _ = try await f.kms.scheduleKeyDeletion(.init(keyId: key), by: f.admin) } == .kmsInvalidState)
        _ = try await f.kms.cancelKeyDeletion(.init(keyId: key), by: f.admin)
        #expect(try await f.kms.describeKey(.init(keyId: key), by: f.admin).keyMetadata?.keyState == .disabled)
        #expect(await kmsError { _ = try await f.kms.cancelKeyDeletion(.init(keyId: key), by: f.admin) } == .kmsInvalidState)
        for days in [6, 31] {
            #expect(await kmsError { _ = try await f.kms.scheduleKeyDeletion(.init(keyId: key, pendingWindowInDays: days), by: f.admin) } == .validation)
        }
    }

    @Test("deletion destroys the material when the window ends; the record remains and says who and when")
    func cryptoShredding() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let blob = try await f.encrypt("gone for good", key: key)
        _ = try await f.kms.scheduleKeyDeletion(.init(keyId: key, pendingWindowInDays: 7), by: f.admin)
        f.clock.advance(days: 6)
        #expect(try await f.kms.performDueWork().destroyed == 0)
        f.clock.advance(days: 2)
        #expect(try await f.kms.performDueWork().destroyed == 1)
        #expect(await kmsError { _ = try await f.decrypt(blob) } == .notFound)
        #expect(await kmsError { _ = try await f.kms.describeKey(.init(keyId: key), by: f.admin) } == .notFound)
        let id = try #require(UUID(uuidString: String(key.split(separator: "/").last!)))
        let record = try #require(try await f.store.key(id: id))
        #expect(record.state == .deleted && record.deletedBy == f.admin.arn && record.deletedAt != nil)
        #expect(try await f.store.versions(keyID: id).allSatisfy { $0.wrappedMaterial.isEmpty })
        let keys = try await f.kms.listKeys(.init(), by: f.admin).keys ?? []
        #expect(!keys.contains { $0.keyArn == key })
        do {
            _ = try await f.decrypt(blob)
        } catch let error as KMSError {
            #expect(error.message.contains("deleted"))
        }
    }

    @Test("a deletion that came due is performed on the next use, even without the scheduler")
    func lazyDeletion() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let blob = try await f.encrypt("x", key: key)
        _ = try await f.kms.scheduleKeyDeletion(.init(keyId: key, pendingWindowInDays: 7), by: f.admin)
        f.clock.advance(days: 8)
        #expect(await kmsError { _ = try await f.decrypt(blob) } == .notFound)
    }

    @Test("rotation adds a version; Encrypt uses the newest; every older version still decrypts")
    func rotation() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        var blobs = [try await f.encrypt("v1", key: key)]
        for round in 2...4 {
            _ = try await f.kms.rotateKeyOnDemand(.init(keyId: key), by: f.admin)
            let blob = try await f.encrypt("v\(round)", key: key)
            #expect(blob[17...20].elementsEqual([0, 0, 0, UInt8(round)]), "sealed under version \(round)")
            blobs.append(blob)
        }
        for (index, blob) in blobs.enumerated() {
            #expect(try await f.decrypt(blob) == "v\(index + 1)")
        }
        let rotations = try await f.kms.listKeyRotations(.init(keyId: key), by: f.admin)
        #expect(rotations.rotations?.count == 3)
        #expect(rotations.rotations?.allSatisfy { $0.rotationType == .onDemand } == true)
        let all = try await f.kms.listKeyRotations(.init(keyId: key, includeKeyMaterial: .allKeyMaterial), by: f.admin)
        #expect(all.rotations?.count == 4)
        #expect(all.rotations?.filter { $0.keyMaterialState == .current }.count == 1)
        let page = try await f.kms.listKeyRotations(.init(keyId: key, limit: 2), by: f.admin)
        #expect(page.rotations?.count == 2 && page.truncated == true)
        let rest = try await f.kms.listKeyRotations(.init(keyId: key, limit: 2, marker: page.nextMarker), by: f.admin)
        #expect(rest.rotations?.count == 1 && rest.truncated == false)
    }

    @Test("RotateKeyOnDemand is limited to 25 per key; a disabled key cannot rotate")
    func onDemandLimit() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        for _ in 0..<25 { _ = try await f.kms.rotateKeyOnDemand(.init(keyId: key), by: f.admin) }
        #expect(await kmsError { _ = try await f.kms.rotateKeyOnDemand(.init(keyId: key), by: f.admin) } == .limitExceeded)
        let other = try await f.newKey()
        try await f.kms.disableKey(.init(keyId: other), by: f.admin)
        #expect(await kmsError { _ = try await f.kms.rotateKeyOnDemand(.init(keyId: other), by: f.admin) } == .disabled)
    }

    @Test("automatic rotation happens when due, and RotationPeriodInDays is 90 to 2560")
    func automaticRotation() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        for days in [89, 2561] {
            #expect(await kmsError { try await f.kms.enableKeyRotation(.init(keyId: key, rotationPeriodInDays: days), by: f.admin) } == .validation)
        }
        try await f.kms.enableKeyRotation(.init(keyId: key, rotationPeriodInDays: 90), by: f.admin)
        let status = try await f.kms.getKeyRotationStatus(.init(keyId: key), by: f.admin)
        #expect(status.keyRotationEnabled == true && status.rotationPeriodInDays == 90)
        let old = try await f.encrypt("before", key: key)
        f.clock.advance(days: 89)
        #expect(try await f.kms.performDueWork().rotated == 0)
        f.clock.advance(days: 2)
        #expect(try await f.kms.performDueWork().rotated == 1)
        #expect(try await f.kms.performDueWork().rotated == 0, "the next rotation is 90 days on")
        let new = try await f.encrypt("after", key: key)
        #expect(new[20] == 2)
        #expect(try await f.decrypt(old) == "before")
        let rotations = try await f.kms.listKeyRotations(.init(keyId: key), by: f.admin)
        #expect(rotations.rotations?.first?.rotationType == .automatic)
        try await f.kms.disableKeyRotation(.init(keyId: key), by: f.admin)
        f.clock.advance(days: 200)
        #expect(try await f.kms.performDueWork().rotated == 0)
    }

    @Test("ReEncrypt moves a ciphertext to another key and context without returning plaintext")
    func reEncrypt() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let a = try await f.newKey(), b = try await f.newKey()
        let blob = try await f.encrypt("moving", key: a, context: ["app": "1"])
        let moved = try await f.kms.reEncrypt(
            .init(ciphertextBlob: blob, sourceEncryptionContext: ["app": "1"], destinationKeyId: b, destinationEncryptionContext: ["app": "2"]),
            by: f.admin)
        #expect(moved.sourceKeyId == a && moved.keyId == b)
        #expect(Mirror(reflecting: moved).children.allSatisfy { $0.label != "plaintext" })
        let newBlob = try #require(moved.ciphertextBlob)
        #expect(try await f.decrypt(newBlob, context: ["app": "2"]) == "moving")
        #expect(await kmsError { _ = try await f.decrypt(newBlob, context: ["app": "1"]) } == .invalidCiphertext)
        #expect(await kmsError {
            _ = try await f.kms.reEncrypt(.init(ciphertextBlob: blob, sourceEncryptionContext: ["app": "x"], destinationKeyId: b), by: f.admin)
        } == .invalidCiphertext)
    }

    @Test("GenerateDataKey takes exactly one of KeySpec and NumberOfBytes, within AWS's limits")
    func generateDataKey() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let aes256 = try await f.kms.generateDataKey(.init(keyId: key, encryptionContext: ["f": "x"], keySpec: .aes256), by: f.admin)
        #expect(aes256.plaintext?.count == 32)
        let unwrapped = try await f.kms.decrypt(.init(ciphertextBlob: aes256.ciphertextBlob, encryptionContext: ["f": "x"]), by: f.admin)
        #expect(unwrapped.plaintext == aes256.plaintext)
        #expect(try await f.kms.generateDataKey(.init(keyId: key, keySpec: .aes128), by: f.admin).plaintext?.count == 16)
        #expect(try await f.kms.generateDataKey(.init(keyId: key, numberOfBytes: 1024), by: f.admin).plaintext?.count == 1024)
        for (spec, bytes) in [(KMS.DataKeySpec?.some(.aes256), Int?.some(32)), (nil, nil), (nil, 0), (nil, 1025)] {
            #expect(await kmsError { _ = try await f.kms.generateDataKey(.init(keyId: key, numberOfBytes: bytes, keySpec: spec), by: f.admin) } == .validation)
        }
        let without = try await f.kms.generateDataKeyWithoutPlaintext(.init(keyId: key, keySpec: .aes256), by: f.admin)
        #expect(try await f.kms.decrypt(.init(ciphertextBlob: without.ciphertextBlob), by: f.admin).plaintext?.count == 32)
        #expect(try await f.kms.generateRandom(.init(numberOfBytes: 1024), by: f.function).plaintext?.count == 1024)
        #expect(await kmsError { _ = try await f.kms.generateRandom(.init(numberOfBytes: 1025), by: f.admin) } == .validation)
        #expect(await kmsError { _ = try await f.kms.generateRandom(.init(numberOfBytes: 0), by: f.admin) } == .validation)
    }

    @Test("documented limits are enforced with AWS's error names")
    func limits() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        #expect(await kmsError { _ = try await f.kms.encrypt(.init(keyId: key, plaintext: Data(count: 4097)), by: f.admin) } == .validation)
        #expect(await kmsError { _ = try await f.kms.encrypt(.init(keyId: key, plaintext: Data()), by: f.admin) } == .validation)
        _ = try await f.kms.encrypt(.init(keyId: key, plaintext: Data(count: 4096)), by: f.admin)
        #expect(await kmsError { _ = try await f.kms.encrypt(.init(keyId: key, plaintext: Data([1]), encryptionContext: ["": "x"]), by: f.admin) } == .validation)
        #expect(await kmsError { _ = try await f.kms.createKey(.init(description: String(repeating: "d", count: 8193)), by: f.admin) } == .validation)
        #expect(await kmsError { _ = try await f.kms.createKey(.init(keySpec: .sm2), by: f.admin) } == .unsupportedOperation)
        #expect(await kmsError { _ = try await f.kms.createKey(.init(keySpec: .rsa2048), by: f.admin) } == .validation)
        #expect(await kmsError { _ = try await f.kms.createKey(.init(tags: [.init(tagKey: "aws:x", tagValue: "y")]), by: f.admin) } == .tag)
        #expect(await kmsError { try await f.kms.createAlias(.init(aliasName: "noprefix", targetKeyId: key), by: f.admin) } == .invalidAliasName)
        #expect(await kmsError { try await f.kms.createAlias(.init(aliasName: "alias/aws/mine", targetKeyId: key), by: f.admin) } == .invalidAliasName)
        #expect(await kmsError { _ = try await f.kms.listKeys(.init(limit: 1001), by: f.admin) } == .validation)
        #expect(await kmsError { _ = try await f.kms.encrypt(.init(keyId: key, plaintext: Data([1]), grantTokens: Array(repeating: "t", count: 11)), by: f.admin) } == .validation)
    }

    @Test("keys are found by id, ARN, alias name and alias ARN where AWS allows each")
    func keyReferences() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let arn = try await f.newKey()
        let id = String(arn.split(separator: "/").last!)
        try await f.kms.createAlias(.init(aliasName: "alias/app", targetKeyId: id), by: f.admin)
        for reference in [id, arn, "alias/app", "arn:aws:kms:us-east-1:111122223333:alias/app", id.uppercased()] {
            #expect(try await f.kms.describeKey(.init(keyId: reference), by: f.admin).keyMetadata?.arn == arn, "\(reference)")
            _ = try await f.encrypt("x", key: reference)
        }
        #expect(await kmsError { _ = try await f.kms.describeKey(.init(keyId: "arn:aws:kms:us-east-1:999999999999:key/\(id)"), by: f.admin) } == .notFound)
        #expect(await kmsError { _ = try await f.kms.describeKey(.init(keyId: "alias/none"), by: f.admin) } == .notFound)
        #expect(await kmsError { _ = try await f.kms.describeKey(.init(keyId: UUID().uuidString), by: f.admin) } == .notFound)
        #expect(await kmsError { try await f.kms.enableKey(.init(keyId: "alias/app"), by: f.admin) } == .notFound)
        #expect(await kmsError { _ = try await f.kms.describeKey(.init(keyId: "arn:aws:kms:us-east-1"), by: f.admin) } == .invalidArn)
        // UpdateAlias moves it; DeleteAlias removes it.
        let other = try await f.newKey()
        try await f.kms.updateAlias(.init(aliasName: "alias/app", targetKeyId: other), by: f.admin)
        #expect(try await f.kms.describeKey(.init(keyId: "alias/app"), by: f.admin).keyMetadata?.arn == other)
        #expect(await kmsError { try await f.kms.createAlias(.init(aliasName: "alias/app", targetKeyId: id), by: f.admin) } == .alreadyExists)
        try await f.kms.deleteAlias(.init(aliasName: "alias/app"), by: f.admin)
        #expect(await kmsError { try await f.kms.deleteAlias(.init(aliasName: "alias/app"), by: f.admin) } == .notFound)
        #expect(await kmsError { try await f.kms.updateAlias(.init(aliasName: "alias/app", targetKeyId: id), by: f.admin) } == .notFound)
    }

    @Test("ListKeys, ListAliases and ListResourceTags paginate with Limit and Marker")
    func pagination() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        var made = Set<String>()
        for i in 0..<5 {
            let key = try await f.newKey()
            made.insert(key)
            try await f.kms.createAlias(.init(aliasName: "alias/k\(i)", targetKeyId: key), by: f.admin)
        }
        var seen: [String] = [], marker: String?, pages = 0
        repeat {
            let page = try await f.kms.listKeys(.init(limit: 2, marker: marker), by: f.admin)
            seen += (page.keys ?? []).compactMap(\.keyArn)
            marker = page.nextMarker
            pages += 1
            #expect((page.truncated ?? false) == (marker != nil))
        } while marker != nil
        #expect(pages == 3 && Set(seen) == made && seen.count == 5)
        #expect(await kmsError { _ = try await f.kms.listKeys(.init(marker: "bogus"), by: f.admin) } == .invalidMarker)
        let aliases = try await f.kms.listAliases(.init(limit: 3), by: f.admin)
        #expect(aliases.aliases?.count == 3 && aliases.truncated == true)
        let rest = try await f.kms.listAliases(.init(limit: 3, marker: aliases.nextMarker), by: f.admin)
        #expect(rest.aliases?.count == 2 && rest.truncated == false)
        let key = try #require(made.first)
        try await f.kms.tagResource(.init(keyId: key, tags: (0..<5).map { KMS.Tag(tagKey: "t\($0)", tagValue: "v") }), by: f.admin)
        let tags = try await f.kms.listResourceTags(.init(keyId: key, limit: 4), by: f.admin)
        #expect(tags.tags?.count == 4 && tags.truncated == true)
        try await f.kms.untagResource(.init(keyId: key, tagKeys: ["t0", "t1"]), by: f.admin)
        #expect(try await f.kms.listResourceTags(.init(keyId: key), by: f.admin).tags?.count == 3)
    }
}
