import EnvSealFormat
import SealedDotenv
import Testing

/// Sealing every variable of a file and decrypting it gives back the same bytes.
@Suite struct RoundTripTests {
    static let corpus: [(String, String)] = [
        ("inline comments", "A=value # a comment\nB=plain\t# tabbed comment\n"),
        ("hash in quotes", "B=\"a # b\"\nC='x#y'\nD=`tick # tock`\n"),
        ("multi-line", "PEM=\"-----BEGIN KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----\"\nNEXT=1\n"),
        ("multi-line single", "TEXT='line one\nline two'\n"),
        ("CRLF", "A=1\r\nB=\"two words\"\r\n# comment\r\nC=three\r\n"),
        ("empty values", "E=\nF=\"\"\nG=''\n"),
        ("export", "export TOKEN=abc123\nexport  SPACED=\"x y\"\n"),
        ("unicode", "U=héllo\nV=\"日本語 テキスト\"\nW='emoji ✓ 🚀'\n"),
        ("equals and spaces", "W=a=b=c\nX=\"has spaces\"\nY='single spaced'\nZ=\"quote \\\" inside\"\n"),
        ("backslashes", "P=\"C:\\\\path\\\\to\"\nQ='back\\slash'\n"),
        ("byte order mark", "\u{FEFF}A=1\nB=2\n"),
        ("no final newline", "A=1\nB=last"),
        ("blank lines and comments", "\n# top\n\nA=1\n\n\n# bottom\n"),
        // Spellings the writer would not choose: sealed with the value (es2:), given back exactly.
        ("quote inside unquoted", "F=unquoted 'quote' inside\n"),
        ("expansion syntax", "K=${X}\nL=\"${Y:-d}\"\n"),
        ("hash glued in unquoted", "HASHVAL=abc#def\n"),
        ("unknown escape", "U=\"\\u00e9\"\n"),
        ("escaped dollar", "A=\"it's $5 and \\$6\"\n"),
        ("escaped newline", "N=\"a\\nb\"\nM='x\\y'\n"),
        ("CRLF inside quotes", "P=\"one\r\ntwo\"\r\n"),
        ("empty value with a comment", "E= # note\nF=   # wide\n"),
    ]

    @Test("seal, then decrypt, gives the same bytes", arguments: corpus)
    func roundTrip(name: String, text original: String) async throws {
        let f = try await Fixture()
        let file = try DotenvFile.parse(Array(original.utf8))
        let sealed = try await f.sealer.seal(file, keyID: f.keyARN, context: .empty, selection: .all)
        for assignment in file.assignments {
            let text = try #require(sealed.value(of: assignment.name))
            #expect(SealedValue.isSealed(text), "\(name): \(assignment.name) not sealed")
            // The value alone when the writer gives the spelling back, else the spelling.
            #expect(SealedValue.isSpelling(text) == !assignment.hasCanonicalSpelling, "\(name): \(assignment.name)")
        }
        let plain = try await f.sealer.decrypt(sealed)
        #expect(plain.render() == file.render(), "\(name)")
        // And the sealed file itself parses back to what was written.
        #expect(try DotenvFile.parse(sealed.render()) == sealed, "\(name)")
    }

    /// Lambda mode keeps only the value (the function decrypts it as it is), so spellings that
    /// differ from how the value would be written again cannot come back.
    static let lambdaLossy: Set = ["unknown escape", "escaped dollar", "escaped newline", "CRLF inside quotes"]

    /// Every case with something to encrypt (KMS takes 1 to 4,096 bytes, so empty values stay).
    @Test("lambda mode round-trips too", arguments: corpus.filter { !$0.0.hasPrefix("empty value") && !lambdaLossy.contains($0.0) })
    func lambdaRoundTrip(name: String, text original: String) async throws {
        let f = try await Fixture()
        let file = try DotenvFile.parse(Array(original.utf8))
        let sealed = try await f.sealer.sealForLambda(file, keyID: f.keyARN, functionName: "fn", selection: .all)
        let plain = try await f.sealer.decryptLambda(sealed, functionName: "fn", selection: .all)
        #expect(plain.render() == file.render(), "\(name)")
    }
}
