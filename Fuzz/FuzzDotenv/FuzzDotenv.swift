// Fuzzes the dotenv parser: any bytes parse or throw a DotenvError; a parsed file renders back to
// exactly the input, and the rendering parses to an equal file.
import EnvSealFormat
import FuzzSupport

@_cdecl("FuzzDotenv_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = inputBytes(data, size)
    let file: DotenvFile
    do {
        file = try DotenvFile.parse(input)
    } catch {
        check(error.line >= 1 && error.column >= 1, "error position \(error.line):\(error.column) is not 1-based")
        return 0
    }
    let rendered = file.render()
    check(rendered == input, "render() differs from the parsed bytes")
    // Valid UTF-8 (parsing succeeded), so the text path must agree with the byte path.
    check((try? DotenvFile.parse(String(decoding: input, as: UTF8.self))) == file, "parse(String) differs from parse(bytes)")
    check(Array(file.renderString().utf8) == input, "renderString() differs from the parsed bytes")
    for name in file.names {
        check(file.value(of: name) != nil, "a listed name has no value")
    }
    return 0
}
