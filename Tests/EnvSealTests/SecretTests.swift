import Foundation
import Testing
import EnvSeal

@Suite("Secret")
struct SecretTests {
    static let canary = "canary-7f3a9c-s3cr3t"

    struct Config: Encodable {
        let user: String
        let password: Secret<String>
    }

    @Test("every textual form shows the marker and never the plaintext")
    func neverShows() throws {
        let secret = try Secret(Self.canary)
        var dumped = ""
        dump(secret, to: &dumped)
        var dumpedConfig = ""
        let config = Config(user: "app", password: secret)
        dump(config, to: &dumpedConfig)
        let json = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        let forms = [
            secret.description, secret.debugDescription, "\(secret)", String(describing: secret),
            String(reflecting: secret), dumped, dumpedConfig, json, "\(Mirror(reflecting: secret).children.map { "\($0)" })",
            "\([secret])", "\(Optional(secret) as Any)",
        ]
        for form in forms {
            #expect(!form.contains(Self.canary), "leaked in: \(form.replacingOccurrences(of: Self.canary, with: "CANARY"))")
            #expect(!form.contains("s3cr3t"))
        }
        #expect(json.contains("<redacted>"))
        #expect(secret.description == "<redacted>")
    }

    @Test("the plaintext is reachable through the explicit accessors")
    func reveals() throws {
        let secret = try Secret(Self.canary)
        #expect(secret.revealed() == Self.canary)
        #expect(secret.withRevealedBytes { Array($0) } == Array(Self.canary.utf8))
        #expect(secret.byteCount == Self.canary.utf8.count)
        #expect(secret == (try Secret(Self.canary)))
        #expect(secret != (try Secret("other")))
        let bytes = try Secret<[UInt8]>([0, 1, 2, 255])
        #expect(bytes.revealed() == [0, 1, 2, 255])
        #expect("\(bytes)" == "<redacted>")
    }
}
