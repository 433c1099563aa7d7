import Foundation
@testable import KMSClient
import Testing

@Suite("Process environment")
struct ProcessEnvironmentTests {
    /// Parses `entries` as a `NULL`-terminated C array, the way `environ` is laid out.
    func parse(_ entries: [[UInt8]]) -> [String: String] {
        let strings = entries.map { bytes -> UnsafeMutablePointer<CChar> in
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            for (index, byte) in bytes.enumerated() { pointer[index] = CChar(bitPattern: byte) }
            pointer[bytes.count] = 0
            return pointer
        }
        defer { strings.forEach { $0.deallocate() } }
        let array: [UnsafeMutablePointer<CChar>?] = strings + [nil]
        return array.withUnsafeBufferPointer { ProcessEnvironment.variables(entries: $0.baseAddress!) }
    }

    @Test func splitsAtTheFirstEqualsSignKeepsTheFirstOfTwoNamesAndSkipsNamelessEntries() {
        let variables = parse([
            Array("PLAIN=value".utf8),
            Array("WITH_EQUALS=a=b==c".utf8),
            Array("EMPTY=".utf8),
            Array("TEXT=Überprüfung € 🔑".utf8),
            Array("NO_EQUALS_SIGN".utf8),
            Array("PLAIN=second".utf8),
            Array("=no name".utf8),
            [0x42, 0x41, 0x44, 0x3D, 0x61, 0xFF, 0x62],  // BAD=a\xFFb
        ])
        #expect(variables == [
            "PLAIN": "value", "WITH_EQUALS": "a=b==c", "EMPTY": "", "TEXT": "Überprüfung € 🔑",
            "BAD": "a\u{FFFD}b",
        ])
    }

    @Test func anEmptyListHasNoVariables() {
        #expect(parse([]).isEmpty)
    }

    @Test func agreesWithFoundation() {
        let variables = ProcessEnvironment.variables()
        #expect(!variables.isEmpty)
        #expect(variables == ProcessInfo.processInfo.environment)
    }
}
