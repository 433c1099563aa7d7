/// What every fuzz target shares: the hand-over to libFuzzer, a property check that traps, and the
/// fixed keys of the test vectors.
///
/// SwiftPM links an executable's entry point as `<Target>_main`; a fuzz target built with
/// `-parse-as-library` has none, so each defines it (with `@_cdecl`) and calls ``runLibFuzzer``.
/// Only the fuzz targets depend on this module, and only when `ENVSEAL_FUZZ` is set.

/// libFuzzer's entry point for a program that has its own `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// Hands the process to libFuzzer, which calls `testOneInput` for each input.
/// - Parameters:
///   - argc: `main`'s argument count.
///   - argv: `main`'s arguments (libFuzzer's flags, corpus folders).
///   - testOneInput: The target, as `LLVMFuzzerTestOneInput`.
/// - Returns: libFuzzer's exit status.
package func runLibFuzzer(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
    _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv, testOneInput)
}

/// The input as an array (libFuzzer passes a null pointer for the empty input).
package func inputBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Traps, so that libFuzzer records the input, when a property does not hold.
/// - Parameters:
///   - condition: The property.
///   - message: What broke; never a secret (the fuzz keys are public test-vector keys).
package func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("property violated: \(message())") }
}

/// Bytes from hex text written in a fuzz target (a fixed key); traps on a typo.
package func hexBytes(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    precondition(digits.count % 2 == 0, "odd hex length")
    func value(_ digit: UInt8) -> UInt8 {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: preconditionFailure("not a lower-case hex digit")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
}
