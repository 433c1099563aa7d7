// Fuzzes the canonical encryption-context decoder: any bytes decode or throw a FormatError, and a
// decoded context has one encoding only, the input, whichever way it is rebuilt.
import EnvSealFormat
import FuzzSupport

@_cdecl("FuzzEncryptionContext_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = inputBytes(data, size)
    guard let context = try? EncryptionContext(canonicalBytes: input) else { return 0 }
    check(context.canonicalBytes == input, "re-encoding differs from the input")
    check(context.isEmpty == input.isEmpty, "empty context and empty encoding disagree")
    let rebuilt: EncryptionContext
    do {
        rebuilt = try EncryptionContext(pairs: context.pairs.reversed())
    } catch {
        fatalError("property violated: the decoded pairs are refused by init(pairs:): \(error)")
    }
    check(rebuilt.canonicalBytes == input, "init(pairs:) encodes the decoded pairs differently")
    check(rebuilt == context && rebuilt.hashValue == context.hashValue, "equal encodings compare or hash unequal")
    return 0
}
