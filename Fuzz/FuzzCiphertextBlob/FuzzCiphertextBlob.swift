// Fuzzes the key service's ciphertext blob. The first input byte picks the encryption context
// (bits 0-2) and the key (the rest, modulo 3) among the test vectors'; the rest is the blob. Any
// blob parses or throws a FormatError; a parsed blob writes back to the same bytes; opening under
// the fixed key either throws or gives a plaintext that both open paths agree on and that seals
// back to the same blob.
import EnvSealFormat
import Foundation
import FuzzSupport
import SodiumKit

@_cdecl("FuzzCiphertextBlob_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}

/// The key material of Tests/EnvSealFormatTests/Vectors/blob.json (public test keys).
let keys: [KeyMaterial] = [
    "9a732d3b2ddafe9e5f3bab98b285859b86505316e5968bec1b34ce7738eee175",
    "b61d6ea1d095fdf6a040ae22d69bdf8bfefc617608879910ce65296ec7da9d4c",
    "95cfbfe874fdd26e626595d5c869baea44db923173861963a481d0fdd6cc2cd7",
].map { hex in
    do { return try KeyMaterial(secureBytes: SecureBytes(copying: hexBytes(hex))) } catch { fatalError("fuzz key: \(error)") }
}

/// The contexts of the same vectors, eight of them.
let contexts: [EncryptionContext] = [
    [:], ["purpose": "test"], ["envseal:file": "app.env"], ["LambdaFunctionName": "billing"],
    ["envseal:file": "other.env"], ["envseal:file": "App.env"], ["Envseal:file": "app.env"],
    ["envseal:file": "app.env", "envseal:repo": "billing"],
].map { pairs in
    do { return try EncryptionContext(pairs) } catch { fatalError("fuzz context: \(error)") }
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = inputBytes(data, size)
    guard let selector = input.first else { return 0 }
    let context = contexts[Int(selector & 7)]
    let key = keys[Int(selector >> 3) % keys.count]
    let bytes = Array(input.dropFirst())
    guard let blob = try? CiphertextBlob(parsing: bytes) else { return 0 }
    check(blob.bytes == bytes, "a parsed blob writes different bytes")
    check(blob.keyVersion > 0, "key version 0 parsed")
    check(blob.sealed.count >= CiphertextBlob.overhead - CiphertextBlob.headerByteCount, "shorter than a tag")
    let guarded = try? blob.open(key: key, context: context)
    let plain = try? blob.openForTransfer(key: key, context: context)
    check((guarded == nil) == (plain == nil), "open and openForTransfer disagree on authenticity")
    guard let guarded, let plain else { return 0 }
    check(guarded.withUnsafeBytes { Array($0) } == Array(plain), "open and openForTransfer give different plaintexts")
    let resealed = try? CiphertextBlob.seal(
        guarded, key: key, keyID: blob.keyID, keyVersion: blob.keyVersion, context: context, nonce: blob.nonce)
    check(resealed?.bytes == bytes, "an opened blob does not seal back to itself")
    return 0
}
