import KeyService
import Testing
import TestSupport

/// Seeded property tests: the parser is total over hostile input, evaluation is order-independent,
/// and wildcard matching agrees with a slow reference matcher. A failure names its seed and case.
@Suite("Key policies: properties")
struct KeyPolicyPropertyTests {
    typealias F = KeyPolicyFixtures
    private static let seeds: [UInt64] = [0x0EC0_0001, 0x0EC0_0002]

    // MARK: Totality

    @Test("Random and mutated documents parse or throw PolicyError, never trap", arguments: seeds)
    func mutatedDocuments(seed: UInt64) throws {
        var random = PolicyRandom(seed: seed)
        let corpus = [try F.example("least-privilege-function.json"), try F.example("default-key-policy.json")]
            + (0 ..< 20).map { _ in PolicyGenerator.document(&random) }
        var parsed = 0
        var kinds = Set<PolicyError.Kind>()
        // 10,000 documents per seed, 20,000 in all.
        for index in 0 ..< 10_000 {
            let json: String
            switch index % 4 {
            case 0: json = PolicyGenerator.document(&random)
            case 1: json = PolicyGenerator.randomJSON(&random, depth: 0)
            default:
                var bytes = Array(random.element(corpus).utf8)
                for _ in 0 ..< random.int(1 ... 4) { PolicyGenerator.mutate(&bytes, &random) }
                json = String(decoding: bytes, as: UTF8.self)
            }
            do {
                let policy = try KeyPolicy(json: json)
                parsed += 1
                #expect(!policy.statements.isEmpty, "seed \(seed) case \(index)")
                #expect(try KeyPolicy(json: policy.json) == policy, "seed \(seed) case \(index): reparse differs")
                for _ in 0 ..< 3 { _ = policy.evaluate(PolicyGenerator.request(&random)) }
            } catch {
                kinds.insert(error.kind)
                #expect(!error.description.isEmpty)
                if let statement = error.statement { #expect(statement >= 1, "seed \(seed) case \(index)") }
            }
        }
        // The fuzzer must reach both outcomes, and a variety of errors, to be worth anything.
        #expect(parsed >= 1_000, "seed \(seed): only \(parsed) documents parsed")
        #expect(kinds.count >= 10, "seed \(seed): only \(kinds.sorted { $0.rawValue < $1.rawValue })")
    }

    @Test("Generated valid policies always parse", arguments: seeds)
    func generatedPoliciesParse(seed: UInt64) {
        var random = PolicyRandom(seed: seed)
        for index in 0 ..< 2_000 {
            let json = PolicyGenerator.document(&random, valid: true)
            #expect(F.rejection(json) == nil, "seed \(seed) case \(index): \(json)")
        }
    }

    @Test("The decision does not depend on statement order", arguments: seeds)
    func orderIndependence(seed: UInt64) throws {
        var random = PolicyRandom(seed: seed)
        for index in 0 ..< 500 {
            let statements = (0 ..< random.int(1 ... 5)).map { _ in PolicyGenerator.statement(&random, valid: true, sid: nil) }
            let forward = try KeyPolicy(json: #"{"Statement": ["# + statements.joined(separator: ",") + "]}")
            let backward = try KeyPolicy(json: #"{"Statement": ["# + statements.reversed().joined(separator: ",") + "]}")
            for _ in 0 ..< 10 {
                let request = PolicyGenerator.request(&random)
                let (a, b) = (forward.evaluate(request), backward.evaluate(request))
                // Without Sids every explicit deny reads the same, so the decisions must be equal.
                #expect(a == b, "seed \(seed) case \(index)")
            }
        }
    }

    // MARK: Wildcards

    @Test("WildcardPattern agrees with a reference matcher", arguments: seeds)
    func wildcardReference(seed: UInt64) {
        var random = PolicyRandom(seed: seed)
        let patternAlphabet: [String] = ["a", "b", "A", "é", "😀", ":", "*", "*", "?"]
        let textAlphabet: [String] = ["a", "b", "A", "B", "é", "😀", ":"]
        for index in 0 ..< 20_000 {
            let pattern = (0 ..< random.int(0 ... 8)).map { _ in random.element(patternAlphabet) }.joined()
            let text = (0 ..< random.int(0 ... 10)).map { _ in random.element(textAlphabet) }.joined()
            let ignoringCase = random.int(0 ... 1) == 1
            let expected = ReferenceWildcard.matches(pattern: pattern, text: text, ignoringCase: ignoringCase)
            #expect(WildcardPattern(pattern, ignoringCase: ignoringCase).matches(text) == expected,
                    "seed \(seed) case \(index): \(pattern.debugDescription) ~ \(text.debugDescription) ignoringCase \(ignoringCase)")
        }
    }

    @Test("Repetitive patterns over two letters agree with the reference matcher", arguments: seeds)
    func wildcardReferenceRepetitive(seed: UInt64) {
        // Overlapping prefixes (`aab` in `aaab`) are what the Knuth–Morris–Pratt tables exist for.
        var random = PolicyRandom(seed: seed)
        for index in 0 ..< 20_000 {
            let inner = (0 ..< random.int(1 ... 7)).map { _ in random.element(["a", "a", "b", random.chance(10) ? "?" : "a"]) }.joined()
            let pattern = random.element(["*", "a*", "*b"]) + inner + random.element(["*", "*a", "b*a*"])
            let text = (0 ..< random.int(0 ... 24)).map { _ in random.element(["a", "a", "b"]) }.joined()
            let expected = ReferenceWildcard.matches(pattern: pattern, text: text, ignoringCase: false)
            #expect(WildcardPattern(pattern).matches(text) == expected, "seed \(seed) case \(index): \(pattern) ~ \(text)")
        }
    }

    @Test("Long patterns (past Shift-And's 64 characters) agree with the reference matcher", arguments: seeds)
    func wildcardReferenceLong(seed: UInt64) {
        var random = PolicyRandom(seed: seed)
        for index in 0 ..< 1_000 {
            // Mostly `?` and literals, few stars, so inner parts run long.
            let pattern = (0 ..< random.int(60 ... 90)).map { _ in
                random.element(["?", "?", "?", "a", "b", "é", random.chance(3) ? "*" : "a"])
            }.joined()
            let text = (0 ..< random.int(50 ... 120)).map { _ in random.element(["a", "b", "é"]) }.joined()
            let expected = ReferenceWildcard.matches(pattern: "*" + pattern + "*", text: text, ignoringCase: false)
            #expect(WildcardPattern("*" + pattern + "*").matches(text) == expected, "seed \(seed) case \(index)")
        }
    }

    @Test("Wildcard matching has no backtracking blow-up")
    func wildcardAdversarial() {
        let text = String(repeating: "a", count: 20_000)
        // Each of these takes exponential or quadratic time in a backtracking matcher.
        #expect(!WildcardPattern(String(repeating: "*a", count: 30) + "*b").matches(text))
        #expect(!WildcardPattern(String(repeating: "a*", count: 30) + "b").matches(text))
        #expect(WildcardPattern(String(repeating: "*a", count: 30) + "*").matches(text))
        #expect(!WildcardPattern("*" + String(repeating: "a", count: 500) + "b*").matches(text))
        #expect(WildcardPattern("*" + String(repeating: "?", count: 19_999) + "*").matches(text))
        #expect(!WildcardPattern("*" + String(repeating: "?", count: 20_001) + "*").matches(text))
    }

    @Test("WildcardPattern basics")
    func wildcardBasics() {
        #expect(WildcardPattern("").matches(""))
        #expect(!WildcardPattern("").matches("a"))
        #expect(WildcardPattern("*").isUniversal)
        #expect(WildcardPattern("**").matches(""))
        #expect(WildcardPattern("abc").isLiteral)
        #expect(!WildcardPattern("a?c").isLiteral)
        #expect(WildcardPattern("a*c").matches("ac"))
        #expect(WildcardPattern("a*c").matches("abbbc"))
        #expect(!WildcardPattern("a*c").matches("abbb"))
        #expect(WildcardPattern("*ab*ab").matches("abab"))
        // Found by brute force: a search that restarts too eagerly after a partial match misses these.
        #expect(WildcardPattern("*aabaaaa*").matches("aabaaabaaaa"))
        #expect(WildcardPattern("*aab*").matches("aaab"))
        #expect(!WildcardPattern("ab*ab").matches("aba"))
        #expect(WildcardPattern("??").matches("é😀"))
        #expect(!WildcardPattern("?").matches("é😀"))
        #expect(WildcardPattern("KMS:DECRYPT", ignoringCase: true).matches("kms:Decrypt"))
        #expect(!WildcardPattern("KMS:DECRYPT").matches("kms:Decrypt"))
        #expect(!WildcardPattern("É", ignoringCase: true).matches("é"), "only ASCII folds")
        #expect(WildcardPattern("a*b*c").description == "a*b*c")
    }
}

// MARK: - Reference matcher

/// A deliberately naive matcher over Unicode scalars: dynamic programming over (pattern, text) positions.
private enum ReferenceWildcard {
    static func matches(pattern: String, text: String, ignoringCase: Bool) -> Bool {
        func fold(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
            ignoringCase && scalar.isASCII ? Unicode.Scalar(UInt8(scalar.value)).lowercaseASCII : scalar
        }
        let p = pattern.unicodeScalars.map(fold)
        let t = text.unicodeScalars.map(fold)
        // reachable[j]: the pattern prefix read so far can match the first j text scalars.
        var reachable = [Bool](repeating: false, count: t.count + 1)
        reachable[0] = true
        for symbol in p {
            var next = [Bool](repeating: false, count: t.count + 1)
            for j in 0 ... t.count where reachable[j] {
                switch symbol {
                case "*": for k in j ... t.count { next[k] = true }
                case "?": if j < t.count { next[j + 1] = true }
                default: if j < t.count, t[j] == symbol { next[j + 1] = true }
                }
            }
            reachable = next
        }
        return reachable[t.count]
    }
}

extension Unicode.Scalar {
    fileprivate var lowercaseASCII: Unicode.Scalar {
        (65 ... 90).contains(value) ? Unicode.Scalar(UInt8(value + 32)) : self
    }
}

// MARK: - Generators

/// The shared generator, with the two helpers these tests use.
typealias PolicyRandom = SplitMix64

extension SplitMix64 {
    mutating func chance(_ percent: Int) -> Bool { int(0 ... 99) < percent }
    mutating func element<T>(_ items: [T]) -> T { pick(items) }
}

/// Builds policies (valid or slightly wrong), arbitrary JSON, byte mutations and requests.
enum PolicyGenerator {
    static let principals = [
        #""*""#, #"{"AWS": "*"}"#, #"{"AWS": "111122223333"}"#, #"{"AWS": "arn:aws:iam::111122223333:root"}"#,
        #"{"AWS": ["arn:aws:iam::111122223333:user/admin", "arn:aws:iam::111122223333:user/billing-fn"]}"#,
        #"{"AWS": "arn:aws:iam::444455556666:user/stranger"}"#, #"{"Service": "lambda.amazonaws.com"}"#,
    ]
    static let badPrincipals = [#""arn:aws:iam::111122223333:root""#, #"{"AWS": "arn:aws:iam::*:root"}"#, "{}", #"{"Federated": "x"}"#]
    static let actions = [#""*""#, #""kms:*""#, #""kms:Decrypt""#, #""kms:Generate*""#, #"["kms:Encrypt", "kms:Decrypt"]"#, #""kms:?ncrypt""#]
    static let badActions = [#""s3:GetObject""#, #""kms:""#, "[]", "7", #""Decrypt""#]
    static let resources = [#""*""#, #""arn:aws:kms:*:111122223333:key/*""#, #"["arn:aws:kms:us-east-1:111122223333:key/k1"]"#]
    static let operators = [
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike",
        "ForAnyValue:StringEquals", "ForAllValues:StringLike", "StringEqualsIfExists", "ForAnyValue:StringNotLikeIfExists", "ArnLike",
    ]
    static let keys = ["kms:EncryptionContext:AppName", "kms:EncryptionContextKeys", "kms:CallerAccount", "kms:ViaService", "aws:PrincipalArn"]
    static let values = [#""billing""#, #""bill*""#, #"["AppName", "Stage"]"#, #""111122223333""#, "3", "true", #""arn:aws:iam::*:user/*""#]

    static func document(_ random: inout PolicyRandom, valid: Bool = false) -> String {
        let count = random.int(1 ... 4)
        var statements: [String] = []
        for index in 0 ..< count {
            let sid = random.chance(60) ? "S\(index)" : nil
            statements.append(statement(&random, valid: valid, sid: sid))
        }
        var members = [#""Statement": ["# + statements.joined(separator: ", ") + "]"]
        if random.chance(70) { members.insert(#""Version": "2012-10-17""#, at: 0) }
        if random.chance(20) { members.append(#""Id": "generated""#) }
        if !valid, random.chance(5) { members.append(#""Extra": 1"#) }
        return "{" + members.joined(separator: ", ") + "}"
    }

    static func statement(_ random: inout PolicyRandom, valid: Bool, sid: String?) -> String {
        let broken = !valid && random.chance(30)
        var fields: [String] = []
        if let sid { fields.append(#""Sid": "\#(sid)""#) }
        fields.append(#""Effect": "\#(random.chance(70) ? "Allow" : "Deny")""#)
        fields.append(#""Principal": \#(broken && random.chance(25) ? random.element(badPrincipals) : random.element(principals))"#)
        let action = broken && random.chance(25) ? random.element(badActions) : random.element(actions)
        fields.append(#""\#(random.chance(80) ? "Action" : "NotAction")": \#(action)"#)
        fields.append(#""\#(random.chance(85) ? "Resource" : "NotResource")": \#(random.element(resources))"#)
        if random.chance(60) {
            let blocks = (0 ..< random.int(1 ... 2)).map { index -> String in
                // Distinct operators per block: duplicate member names are refused.
                let name = operators[(index * 5 + random.int(0 ... 4)) % operators.count]
                var key = random.element(keys)
                if name.hasPrefix("ForAllValues"), key.hasPrefix("kms:EncryptionContext:"), valid || !random.chance(30) {
                    key = "kms:EncryptionContextKeys"
                }
                return #""\#(name)": {"\#(key)": \#(random.element(values))}"#
            }
            fields.append(#""Condition": {"# + blocks.joined(separator: ", ") + "}")
        }
        if broken, random.chance(25) { fields.removeLast() }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    /// Arbitrary JSON, usually an object, with policy-flavoured names.
    static func randomJSON(_ random: inout PolicyRandom, depth: Int) -> String {
        let names = ["Version", "Statement", "Effect", "Principal", "Action", "Resource", "Condition", "AWS", "Sid", "StringEquals", "x"]
        switch depth > 4 ? random.int(2 ... 5) : random.int(0 ... 5) {
        case 0, 1:
            let members = (0 ..< random.int(0 ... 4)).map { _ in
                #""\#(random.element(names))": \#(randomJSON(&random, depth: depth + 1))"#
            }
            return "{" + members.joined(separator: ",") + "}"
        case 2: return "[" + (0 ..< random.int(0 ... 3)).map { _ in randomJSON(&random, depth: depth + 1) }.joined(separator: ",") + "]"
        case 3: return random.element([#""Allow""#, #""Deny""#, #""*""#, #""kms:Decrypt""#, #""2012-10-17""#, #""\u00e9\n""#])
        case 4: return random.element(["true", "false", "null", "0", "-1.5e3"])
        default: return random.element(values)
        }
    }

    /// One random edit: flip, insert, delete or duplicate bytes, or splice in a JSON token.
    static func mutate(_ bytes: inout [UInt8], _ random: inout PolicyRandom) {
        let tokens = ["{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud800", "true", "null", "-", "0", "1e9", "*", "kms:", "${", "é", "\u{0}"]
        let position = bytes.isEmpty ? 0 : random.int(0 ... bytes.count - 1)
        switch random.int(0 ... 4) {
        case 0 where !bytes.isEmpty: bytes[position] = UInt8(truncatingIfNeeded: random.next())
        case 1: bytes.insert(contentsOf: Array(random.element(tokens).utf8), at: position)
        case 2 where !bytes.isEmpty: bytes.removeSubrange(position ..< min(bytes.count, position + random.int(1 ... 8)))
        case 3 where !bytes.isEmpty:
            let end = min(bytes.count, position + random.int(1 ... 40))
            bytes.insert(contentsOf: Array(bytes[position ..< end]), at: random.int(0 ... bytes.count))
        default: bytes.insert(UInt8(random.int(0x20 ... 0x7E)), at: position)
        }
    }

    static func request(_ random: inout PolicyRandom) -> AuthorizationRequest {
        let principal = random.element([KeyPolicyFixtures.admin, KeyPolicyFixtures.billing, KeyPolicyFixtures.stranger, "service:lambda.amazonaws.com"])
        let account = principal.hasPrefix("service:") ? "" : String(principal.split(separator: ":")[3])
        let contexts: [[String: String]?] = [nil, [:], ["AppName": "billing"], ["appname": "bill", "Stage": "prod"], ["LambdaFunctionName": "billing"]]
        var extra: [String: [String]] = [:]
        if random.chance(30) { extra["kms:ViaService"] = [random.element(["lambda.us-east-1.amazonaws.com", "ec2.us-east-1.amazonaws.com"])] }
        return AuthorizationRequest(
            principalARN: principal, principalAccount: account,
            action: random.element(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey", "KMS:decrypt"]),
            resourceARN: random.element([KeyPolicyFixtures.keyARN, "arn:aws:kms:us-east-1:111122223333:key/k1"]),
            encryptionContext: random.element(contexts), extraConditionKeys: extra
        )
    }
}
