import EnvSealFormat
import Testing

@Suite("FormatError's public face")
struct FormatErrorKindTests {
    @Test("kind, field and variable follow the reason")
    func kindFieldVariable() {
        let truncated = FormatError(.truncated(field: "nonce"))
        #expect(truncated.kind == .truncated && truncated.field == "nonce" && truncated.variable == nil)
        let invalid = FormatError(.invalidField(field: "version", reason: "not 1"))
        #expect(invalid.kind == .invalidField && invalid.field == "version")
        let changed = FormatError(.changedVariable(name: "REGION"))
        #expect(changed.kind == .changedVariable && changed.variable == "REGION" && changed.field == nil)
        let header = FormatError(.headerMACMismatch)
        #expect(header.kind == .headerMACMismatch && header.variable == nil && header.field == nil)
        #expect(header.isTampering && !truncated.isTampering)
    }

    @Test("every reason has a kind of its own")
    func kindsAreDistinct() {
        let reasons: [FormatError.Reason] = [
            .truncated(field: "f"), .unknownVersion(2), .invalidField(field: "f", reason: "r"), .trailingBytes(count: 1),
            .invalidBase64(field: "f"), .invalidContext(reason: "r"), .authenticationFailed(what: "w"),
            .valueNotAuthentic(name: "N"), .missingVariable(name: "N"), .unlistedVariable(name: "N"),
            .changedVariable(name: "N"), .headerMACMismatch,
        ]
        let kinds = reasons.map { FormatError($0).kind }
        #expect(Set(kinds).count == reasons.count)
        #expect(Set(kinds.map(\.rawValue)).count == reasons.count)
    }
}
