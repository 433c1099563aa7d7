// Fuzzes the sealed-file header and sealed values. The first input byte picks one of the test
// vectors' data keys (modulo 3); the rest is a simplified sealed file: lines of `NAME=value` (split
// at the first `=`), one of them `ENVSEAL=<header>`. Any header parses or throws a FormatError and
// writes back to the same text; verification and opening under the fixed data key throw or
// succeed, never trap; every sealed value that opens seals back to itself.
import EnvSealFormat
import FuzzSupport
import SodiumKit

@_cdecl("FuzzSealedFile_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}

/// The data keys of Tests/EnvSealFormatTests/Vectors/header.json and sealed-value.json (public test keys).
let fileKeys: [SealedFileKeys] = [
    "35a4cd2581ef026658093d139d49af7a34bcf86c578f96e713cc809bfd0a066a",
    "ee78b5b28b734b22fd8073d31425fe341ef5faf6f73b0a2549cc20091c36c6d3",
    "dff655b9e3766cbd721c8b506445e04fc954e965822e00f8455e04763454ba51",
].map { hex in
    do {
        return try SealedFileKeys(dataKey: DataKey(secureBytes: SecureBytes(copying: hexBytes(hex))))
    } catch {
        fatalError("fuzz key: \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = inputBytes(data, size)
    guard let selector = input.first else { return 0 }
    let keys = fileKeys[Int(selector) % fileKeys.count]
    let text = String(decoding: input.dropFirst(), as: UTF8.self)
    var environment: [String: String] = [:]
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
        guard let equals = line.firstIndex(of: "=") else { continue }
        environment[String(line[..<equals])] = String(line[line.index(after: equals)...])
    }
    for (name, value) in environment where name != SealedFileHeader.variableName {
        checkSealedValue(value, name: name, keys: keys)
    }
    if let headerText = environment[SealedFileHeader.variableName] {
        checkHeader(headerText, environment: environment, keys: keys)
    }
    return 0
}

func checkSealedValue(_ text: String, name: String, keys: SealedFileKeys) {
    guard let bytes = try? SealedValue.decode(text, name: name) else { return }
    // A value (`es1:`) or a value's spelling (`es2:`): each keeps its own prefix.
    let isSpelling = SealedValue.isSpelling(text)
    let prefix = isSpelling ? SealedValue.spellingPrefix : SealedValue.prefix
    check(prefix + Base64URL.encode(bytes) == text, "a decoded sealed value has a second spelling")
    guard let plaintext = try? SealedValue.open(text, name: name, keys: keys) else { return }
    let resealed = isSpelling
        ? try? SealedValue.sealSpelling(plaintext, name: name, keys: keys) : try? SealedValue.seal(plaintext, name: name, keys: keys)
    check(resealed == text, "an opened value does not seal back to itself")
}

func checkHeader(_ text: String, environment: [String: String], keys: SealedFileKeys) {
    guard let header = try? SealedFileHeader(parsing: text) else { return }
    check(header.text == text, "a parsed header writes different text")
    check(!header.slots.isEmpty, "a header with no slot parsed")
    check(header.kmsSlots.allSatisfy { !$0.wrappedDataKey.isEmpty }, "empty wrapped data key parsed")
    check(Set(header.sealedNames).isDisjoint(with: header.coveredNames), "a name is both sealed and covered")
    // What SealedFile gives verify.
    let variables = SealedFileHeader.Variables(environment: environment, header: header)
    guard (try? header.verify(variables, keys: keys)) != nil else { return }
    // A header that verifies is one make() would build again, byte for byte.
    let remade = try? SealedFileHeader.make(slots: header.slots, variables: variables, keys: keys, version: header.version)
    check(remade?.text == text, "a verified header is not what make() builds from the same variables")
    guard let opened = try? header.open(variables, keys: keys) else { return }
    check(Set(opened.keys) == Set(header.sealedNames), "open returned other names than the header lists")
}
