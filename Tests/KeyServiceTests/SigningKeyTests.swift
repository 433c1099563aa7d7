import Crypto
import Foundation
import KMSWire
import Testing
import _CryptoExtras
@testable import KeyService

/// Signing keys: CreateKey with ECC_NIST_P256/P384/P521 and RSA_2048/3072/4096, Sign, Verify and
/// GetPublicKey, and everything a signing key is refused, through the same policy, grant, state
/// and audit machinery. Signatures are also checked outside the engine, with swift-crypto and
/// the DER public key GetPublicKey returns.
@Suite("signing keys")
struct SigningKeyTests {
    static let message = Data("invoice 42: pay 100 EUR".utf8)

    static let rsaAlgorithms: [KMS.SigningAlgorithmSpec] = [
        .rsassaPssSha256, .rsassaPssSha384, .rsassaPssSha512, .rsassaPkcs1V15Sha256, .rsassaPkcs1V15Sha384, .rsassaPkcs1V15Sha512,
    ]

    static func algorithms(_ spec: KMS.KeySpec) -> [KMS.SigningAlgorithmSpec] {
        switch spec {
        case .eccNistP256: [.ecdsaSha256]
        case .eccNistP384: [.ecdsaSha384]
        case .eccNistP521: [.ecdsaSha512]
        default: rsaAlgorithms
        }
    }

    private func newSigningKey(_ f: Fixture, _ spec: KMS.KeySpec = .eccNistP256, policy: String? = nil) async throws -> String {
        let response = try await f.kms.createKey(.init(policy: policy, keyUsage: .signVerify, keySpec: spec), by: f.admin)
        return try #require(response.keyMetadata?.arn)
    }

    private func sign(
        _ f: Fixture, _ key: String, _ algorithm: KMS.SigningAlgorithmSpec, _ message: Data = message, type: KMS.MessageType? = nil,
        as principal: Principal? = nil
    ) async throws -> Data {
        try #require(try await f.kms.sign(.init(keyId: key, message: message, messageType: type, signingAlgorithm: algorithm), by: principal ?? f.admin).signature)
    }

    private func verify(
        _ f: Fixture, _ key: String, _ algorithm: KMS.SigningAlgorithmSpec, _ signature: Data, _ message: Data = message,
        type: KMS.MessageType? = nil, as principal: Principal? = nil
    ) async throws -> KMS.VerifyResponse {
        try await f.kms.verify(.init(keyId: key, message: message, messageType: type, signature: signature, signingAlgorithm: algorithm), by: principal ?? f.admin)
    }

    /// The algorithm's digest of `message`, computed here.
    static func digest(_ algorithm: KMS.SigningAlgorithmSpec, _ message: Data) -> Data {
        if algorithm.rawValue.hasSuffix("SHA_256") { return Data(Crypto.SHA256.hash(data: message)) }
        if algorithm.rawValue.hasSuffix("SHA_384") { return Data(Crypto.SHA384.hash(data: message)) }
        return Data(Crypto.SHA512.hash(data: message))
    }

    /// Checks a signature with swift-crypto and the DER SubjectPublicKeyInfo, not through the engine.
    static func externallyValid(_ signature: Data, _ message: Data, _ algorithm: KMS.SigningAlgorithmSpec, publicKey der: Data) throws -> Bool {
        switch algorithm {
        case .ecdsaSha256:
            return try P256.Signing.PublicKey(derRepresentation: der).isValidSignature(.init(derRepresentation: signature), for: Crypto.SHA256.hash(data: message))
        case .ecdsaSha384:
            return try P384.Signing.PublicKey(derRepresentation: der).isValidSignature(.init(derRepresentation: signature), for: Crypto.SHA384.hash(data: message))
        case .ecdsaSha512:
            return try P521.Signing.PublicKey(derRepresentation: der).isValidSignature(.init(derRepresentation: signature), for: Crypto.SHA512.hash(data: message))
        default:
            let key = try _RSA.Signing.PublicKey(derRepresentation: der)
            let padding: _RSA.Signing.Padding = algorithm.rawValue.contains("PSS") ? .PSS : .insecurePKCS1v1_5
            let rsa = _RSA.Signing.RSASignature(rawRepresentation: signature)
            if algorithm.rawValue.hasSuffix("SHA_256") { return key.isValidSignature(rsa, for: Crypto.SHA256.hash(data: message), padding: padding) }
            if algorithm.rawValue.hasSuffix("SHA_384") { return key.isValidSignature(rsa, for: Crypto.SHA384.hash(data: message), padding: padding) }
            return key.isValidSignature(rsa, for: Crypto.SHA512.hash(data: message), padding: padding)
        }
    }

    @Test("each spec signs with each of its algorithms, RAW and DIGEST; Verify and swift-crypto accept it; tampering is refused",
          arguments: [KMS.KeySpec.eccNistP256, .eccNistP384, .eccNistP521, .rsa2048, .rsa3072, .rsa4096])
    func signAndVerify(spec: KMS.KeySpec) async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let key = try await newSigningKey(f, spec)
        let publicKey = try await f.kms.getPublicKey(.init(keyId: key), by: f.admin)
        #expect(publicKey.keyId == key)
        #expect(publicKey.keySpec == spec)
        #expect(publicKey.customerMasterKeySpec?.rawValue == spec.rawValue)
        #expect(publicKey.keyUsage == .signVerify)
        #expect(publicKey.signingAlgorithms == Self.algorithms(spec))
        #expect(publicKey.encryptionAlgorithms == nil)
        let der = try #require(publicKey.publicKey)
        let metadata = try #require(try await f.kms.describeKey(.init(keyId: key), by: f.admin).keyMetadata)
        #expect(metadata.keySpec == spec && metadata.keyUsage == .signVerify)
        #expect(metadata.signingAlgorithms == Self.algorithms(spec))
        #expect(metadata.encryptionAlgorithms == nil && metadata.macAlgorithms == nil)

        for algorithm in Self.algorithms(spec) {
            let digest = Self.digest(algorithm, Self.message)
            for type in [nil, KMS.MessageType.raw, .digest] {
                let input = type == .digest ? digest : Self.message
                let signed = try await f.kms.sign(.init(keyId: key, message: input, messageType: type, signingAlgorithm: algorithm), by: f.admin)
                #expect(signed.keyId == key && signed.signingAlgorithm == algorithm)
                let signature = try #require(signed.signature)
                #expect(try Self.externallyValid(signature, Self.message, algorithm, publicKey: der), "\(algorithm) \(String(describing: type))")
                // The message type need not be the one it was signed with.
                for check in [KMS.MessageType.raw, .digest] {
                    let verified = try await verify(f, key, algorithm, signature, check == .digest ? digest : Self.message, type: check)
                    #expect(verified.signatureValid == true && verified.keyId == key && verified.signingAlgorithm == algorithm)
                }
                var tampered = signature
                tampered[tampered.count / 2] ^= 0x01
                for (candidate, message) in [(tampered, Self.message), (signature, Data("invoice 42: pay 900 EUR".utf8)), (signature.dropLast(), Self.message)] {
                    #expect(await kmsError { _ = try await verify(f, key, algorithm, candidate, message) } == .kmsInvalidSignature)
                }
            }
        }
        // Another key of the same spec does not accept this key's signature.
        let algorithm = Self.algorithms(spec)[0]
        let signature = try await sign(f, key, algorithm)
        let other = try await newSigningKey(f, spec)
        #expect(await kmsError { _ = try await verify(f, other, algorithm, signature) } == .kmsInvalidSignature)
    }

    @Test("an algorithm not the spec's, a digest of the wrong length, EXTERNAL_MU and bad sizes are refused")
    func badRequests() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let ecc = try await newSigningKey(f, .eccNistP256)
        let rsa = try await newSigningKey(f, .rsa2048)
        for (key, algorithm, spec) in [(ecc, KMS.SigningAlgorithmSpec.ecdsaSha384, "ECC_NIST_P256"), (ecc, .rsassaPssSha256, "ECC_NIST_P256"),
                                       (rsa, .ecdsaSha256, "RSA_2048"), (ecc, .sm2dsa, "ECC_NIST_P256")] {
            do {
                _ = try await sign(f, key, algorithm)
                Issue.record("\(algorithm) was accepted on \(spec)")
            } catch let error as KMSError {
                #expect(error.type == .invalidKeyUsage)
                #expect(error.message == "Algorithm \(algorithm.rawValue) is incompatible with key spec \(spec).")
            }
        }
        do {
            _ = try await sign(f, ecc, .ecdsaSha256, Data(count: 48), type: .digest)
            Issue.record("a 48-byte digest was accepted for ECDSA_SHA_256")
        } catch let error as KMSError {
            #expect(error.type == .validation)
            #expect(error.message == "Digest is invalid length for algorithm ECDSA_SHA_256.")
        }
        #expect(await kmsError { _ = try await sign(f, rsa, .rsassaPssSha512, Data(count: 32), type: .digest) } == .validation)
        #expect(await kmsError { _ = try await verify(f, rsa, .rsassaPssSha256, Data(count: 256), Data(count: 31), type: .digest) } == .validation)
        #expect(await kmsError { _ = try await sign(f, ecc, .ecdsaSha256, Data(count: 64), type: .externalMu) } == .validation)
        #expect(await kmsError { _ = try await sign(f, ecc, .ecdsaSha256, Data()) } == .validation)
        #expect(await kmsError { _ = try await sign(f, ecc, .ecdsaSha256, Data(count: 4097)) } == .validation)
        #expect(await kmsError { _ = try await sign(f, ecc, .ecdsaSha256, type: KMS.MessageType(rawValue: "HASHED")) } == .validation)
        #expect(await kmsError { _ = try await sign(f, ecc, KMS.SigningAlgorithmSpec(rawValue: "ECDSA_MD5")) } == .validation)
        // 4,096 bytes is allowed; a signature that is not DER is invalid, not an error of another kind.
        _ = try await sign(f, ecc, .ecdsaSha256, Data(count: 4096))
        #expect(await kmsError { _ = try await verify(f, ecc, .ecdsaSha256, Data("not DER".utf8)) } == .kmsInvalidSignature)
    }

    @Test("a signing key refuses encryption, MACs and rotation; other keys refuse Sign, Verify and GetPublicKey")
    func wrongUsage() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let signing = try await newSigningKey(f, .eccNistP384)
        let aesKey = try await f.newKey()
        let hmacKey = try #require(try await f.kms.createKey(.init(keyUsage: .generateVerifyMac, keySpec: .hmac256), by: f.admin).keyMetadata?.arn)
        do {
            _ = try await f.encrypt("x", key: signing)
            Issue.record("Encrypt with a signing key succeeded")
        } catch let error as KMSError {
            #expect(error.type == .invalidKeyUsage)
            #expect(error.message == "\(signing) key usage is SIGN_VERIFY which is not valid for Encrypt.")
        }
        #expect(await kmsError { _ = try await f.kms.generateDataKey(.init(keyId: signing, keySpec: .aes256), by: f.admin) } == .invalidKeyUsage)
        #expect(await kmsError { _ = try await f.kms.generateDataKeyWithoutPlaintext(.init(keyId: signing, keySpec: .aes256), by: f.admin) } == .invalidKeyUsage)
        let blob = try await f.encrypt("x", key: aesKey)
        #expect(await kmsError { _ = try await f.kms.reEncrypt(.init(ciphertextBlob: blob, destinationKeyId: signing), by: f.admin) } == .invalidKeyUsage)
        #expect(await kmsError { _ = try await f.kms.generateMac(.init(message: Self.message, keyId: signing, macAlgorithm: .hmacSha256), by: f.admin) } == .invalidKeyUsage)
        for (key, usage) in [(aesKey, "ENCRYPT_DECRYPT"), (hmacKey, "GENERATE_VERIFY_MAC")] {
            do {
                _ = try await sign(f, key, .ecdsaSha256)
                Issue.record("Sign with a \(usage) key succeeded")
            } catch let error as KMSError {
                #expect(error.type == .invalidKeyUsage)
                #expect(error.message == "\(key) key usage is \(usage) which is not valid for Sign.")
            }
            #expect(await kmsError { _ = try await verify(f, key, .ecdsaSha256, Data(count: 64)) } == .invalidKeyUsage)
            #expect(await kmsError { _ = try await f.kms.getPublicKey(.init(keyId: key), by: f.admin) } == .unsupportedOperation)
        }
        for rotation in [
            { _ = try await f.kms.enableKeyRotation(.init(keyId: signing), by: f.admin) },
            { _ = try await f.kms.rotateKeyOnDemand(.init(keyId: signing), by: f.admin) },
            { _ = try await f.kms.getKeyRotationStatus(.init(keyId: signing), by: f.admin) },
        ] as [() async throws -> Void] {
            #expect(await kmsError(rotation) == .unsupportedOperation)
        }
    }

    @Test("CreateKey refuses the specs and usages envseal does not make, naming them; CustomerMasterKeySpec is read")
    func createKeyRefusals() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        for spec in [KMS.KeySpec.eccSecgP256k1, .sm2, .eccNistEdwards25519, .mlDsa44] {
            do {
                _ = try await f.kms.createKey(.init(keyUsage: .signVerify, keySpec: spec), by: f.admin)
                Issue.record("\(spec) was accepted")
            } catch {
                #expect(error.type == .unsupportedOperation)
                #expect(error.message.contains("envseal does not support KeySpec \(spec.rawValue)"))
            }
        }
        do {
            _ = try await f.kms.createKey(.init(keyUsage: .encryptDecrypt, keySpec: .rsa3072), by: f.admin)
            Issue.record("an RSA ENCRYPT_DECRYPT key was accepted")
        } catch {
            #expect(error.type == .unsupportedOperation)
            #expect(error.message.contains("envseal does not support RSA keys for ENCRYPT_DECRYPT"))
        }
        #expect(await kmsError { _ = try await f.kms.createKey(.init(keyUsage: .keyAgreement, keySpec: .eccNistP256), by: f.admin) } == .unsupportedOperation)
        #expect(await kmsError { _ = try await f.kms.createKey(.init(keySpec: .eccNistP256), by: f.admin) } == .validation)
        #expect(await kmsError { _ = try await f.kms.createKey(.init(keyUsage: .encryptDecrypt, keySpec: .eccNistP521), by: f.admin) } == .validation)
        #expect(await kmsError { _ = try await f.kms.createKey(.init(keyUsage: .generateVerifyMac, keySpec: .rsa2048), by: f.admin) } == .validation)
        let old = try await f.kms.createKey(.init(keyUsage: .signVerify, customerMasterKeySpec: .eccNistP521), by: f.admin)
        #expect(old.keyMetadata?.keySpec == .eccNistP521)
        #expect(old.keyMetadata?.signingAlgorithms == [.ecdsaSha512])
    }

    @Test("key state and DryRun apply to Sign, Verify and GetPublicKey")
    func stateAndDryRun() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let key = try await newSigningKey(f)
        let signature = try await sign(f, key, .ecdsaSha256)
        #expect(await kmsError {
            _ = try await f.kms.sign(.init(keyId: key, message: Self.message, signingAlgorithm: .ecdsaSha256, dryRun: true), by: f.admin)
        } == .dryRunOperation)
        #expect(await kmsError {
            _ = try await f.kms.verify(.init(keyId: key, message: Self.message, signature: signature, signingAlgorithm: .ecdsaSha256, dryRun: true), by: f.admin)
        } == .dryRunOperation)
        try await f.kms.disableKey(.init(keyId: key), by: f.admin)
        #expect(await kmsError { _ = try await sign(f, key, .ecdsaSha256) } == .disabled)
        #expect(await kmsError { _ = try await verify(f, key, .ecdsaSha256, signature) } == .disabled)
        #expect(await kmsError { _ = try await f.kms.getPublicKey(.init(keyId: key), by: f.admin) } == .disabled)
        try await f.kms.enableKey(.init(keyId: key), by: f.admin)
        _ = try await f.kms.scheduleKeyDeletion(.init(keyId: key, pendingWindowInDays: 7), by: f.admin)
        #expect(await kmsError { _ = try await sign(f, key, .ecdsaSha256) } == .kmsInvalidState)
        #expect(await kmsError { _ = try await f.kms.getPublicKey(.init(keyId: key), by: f.admin) } == .kmsInvalidState)
        f.clock.advance(days: 8)
        #expect(await kmsError { _ = try await verify(f, key, .ecdsaSha256, signature) } == .notFound)
    }

    @Test("the key policy decides, with kms:SigningAlgorithm, kms:MessageType and kms:KeySpec; grants allow; every call is audited")
    func authorization() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let policy = """
            {"Version": "2012-10-17", "Statement": [
              {"Effect": "Allow", "Principal": {"AWS": "\(f.admin.arn)"}, "Action": "kms:*", "Resource": "*"},
              {"Effect": "Allow", "Principal": {"AWS": "\(f.function.arn)"}, "Action": ["kms:Sign", "kms:Verify"], "Resource": "*",
               "Condition": {"StringEquals": {"kms:SigningAlgorithm": "RSASSA_PSS_SHA_256", "kms:MessageType": "RAW",
                                              "kms:KeySpec": "RSA_2048", "kms:KeyUsage": "SIGN_VERIFY"}}}
            ]}
            """
        let key = try await newSigningKey(f, .rsa2048, policy: policy)
        let signature = try await sign(f, key, .rsassaPssSha256, as: f.function)
        _ = try await verify(f, key, .rsassaPssSha256, signature, as: f.function)
        // Another algorithm, the DIGEST message type, or GetPublicKey: no statement allows them.
        #expect(await kmsError { _ = try await sign(f, key, .rsassaPkcs1V15Sha256, as: f.function) } == .accessDenied)
        #expect(await kmsError {
            _ = try await sign(f, key, .rsassaPssSha256, Self.digest(.rsassaPssSha256, Self.message), type: .digest, as: f.function)
        } == .accessDenied)
        #expect(await kmsError { _ = try await f.kms.getPublicKey(.init(keyId: key), by: f.function) } == .accessDenied)
        // An unauthorized caller learns nothing about the algorithm: denied before it is checked.
        let plain = try await newSigningKey(f, .eccNistP256)
        #expect(await kmsError { _ = try await sign(f, plain, .ecdsaSha512, as: f.function) } == .accessDenied)
        #expect(await kmsError { _ = try await sign(f, plain, .ecdsaSha256, as: f.stranger) } == .accessDenied)
        _ = try await f.kms.createGrant(.init(keyId: plain, granteePrincipal: f.function.arn, operations: [.sign, .getPublicKey]), by: f.admin)
        let granted = try await sign(f, plain, .ecdsaSha256, as: f.function)
        _ = try await f.kms.getPublicKey(.init(keyId: plain), by: f.function)
        #expect(await kmsError { _ = try await verify(f, plain, .ecdsaSha256, granted, as: f.function) } == .accessDenied)

        // A grant may allow only what the key supports, and has no context constraint on a signing key.
        let aesKey = try await f.newKey()
        for (key, operations, constraints) in [
            (plain, [KMS.GrantOperation.encrypt], nil), (plain, [.sign, .generateMac], nil), (aesKey, [.sign], nil), (aesKey, [.getPublicKey], nil),
            (plain, [.verify], KMS.GrantConstraints(encryptionContextSubset: ["k": "v"])),
        ] as [(String, [KMS.GrantOperation], KMS.GrantConstraints?)] {
            #expect(await kmsError {
                _ = try await f.kms.createGrant(.init(keyId: key, granteePrincipal: f.function.arn, operations: operations, constraints: constraints), by: f.admin)
            } == .validation)
        }

        let audit = try await f.store.auditRecords(after: 0, limit: 1000)
        let records = audit.filter { ["Sign", "Verify", "GetPublicKey"].contains($0.operation) }
        #expect(records.map(\.operation) == ["Sign", "Verify", "Sign", "Sign", "GetPublicKey", "Sign", "Sign", "Sign", "GetPublicKey", "Verify"])
        #expect(records.map(\.outcome) == [
            "Allowed", "Allowed", "AccessDeniedException", "AccessDeniedException", "AccessDeniedException",
            "AccessDeniedException", "AccessDeniedException", "Allowed", "Allowed", "AccessDeniedException",
        ])
        #expect(records.first?.keyARN == key)
        #expect(records.allSatisfy { $0.encryptionContext == nil })
    }

    @Test("a seed file may hold signing keys, generated when seeded or given (PEM or base64 DER); bad material is refused")
    func seeded() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let id = "5eed0003-0000-4000-8000-000000000003"
        let seed = try KeySeed(json: Array(#"{"keys": [{"id": "\#(id)", "keySpec": "ECC_NIST_P384", "keyUsage": "SIGN_VERIFY", "aliases": ["alias/signer"]}]}"#.utf8),
                               source: "seed.json")
        #expect(try await f.kms.seed(seed, by: f.admin) == [.created])
        #expect(try await f.kms.seed(seed, by: f.admin) == [.unchanged])
        let signature = try await sign(f, "alias/signer", .ecdsaSha384)
        let der = try #require(try await f.kms.getPublicKey(.init(keyId: id), by: f.admin).publicKey)
        #expect(try Self.externallyValid(signature, Self.message, .ecdsaSha384, publicKey: der))
        // Fixed material: a signature made outside verifies with Verify, and Sign's with the outside key.
        let p256 = P256.Signing.PrivateKey()
        let p384 = P384.Signing.PrivateKey()
        let pem = p256.pemRepresentation.replacingOccurrences(of: "\n", with: "\\n")
        let fixed = try KeySeed(json: Array(#"""
            {"keys": [{"id": "5eed0004-0000-4000-8000-000000000004", "keySpec": "ECC_NIST_P256", "keyUsage": "SIGN_VERIFY", "material": "\#(pem)"},
                      {"id": "5eed0005-0000-4000-8000-000000000005", "keySpec": "ECC_NIST_P384", "material": "\#(p384.derRepresentation.base64EncodedString())"}]}
            """#.utf8), source: "seed.json")
        #expect(try await f.kms.seed(fixed, by: f.admin) == [.created, .created])
        #expect(try await f.kms.seed(fixed, by: f.admin) == [.unchanged, .unchanged])
        #expect(try await f.kms.getPublicKey(.init(keyId: "5eed0004-0000-4000-8000-000000000004"), by: f.admin).publicKey == p256.publicKey.derRepresentation)
        let outside = try p384.signature(for: Crypto.SHA384.hash(data: Self.message)).derRepresentation
        #expect(try await verify(f, "5eed0005-0000-4000-8000-000000000005", .ecdsaSha384, outside).signatureValid == true)
        let inside = try await sign(f, "5eed0004-0000-4000-8000-000000000004", .ecdsaSha256)
        #expect(p256.publicKey.isValidSignature(try .init(derRepresentation: inside), for: Crypto.SHA256.hash(data: Self.message)))
        // Another key under the same id is a conflict.
        let other = try KeySeed(json: Array(#"{"keys": [{"id": "5eed0005-0000-4000-8000-000000000005", "keySpec": "ECC_NIST_P384", "material": "\#(P384.Signing.PrivateKey().derRepresentation.base64EncodedString())"}]}"#.utf8), source: "seed.json")
        #expect(await kmsError { _ = try await f.kms.seed(other, by: f.admin) } == .alreadyExists)
        for (material, reason) in [("AAAA", "it does not parse as one"), ("!!", "not PEM, and not base64"),
                                   (P256.Signing.PrivateKey().derRepresentation.base64EncodedString(), "it does not parse as one")] {
            do {
                _ = try KeySeed(json: Array(#"{"keys": [{"id": "\#(id)", "keySpec": "ECC_NIST_P384", "material": "\#(material)"}]}"#.utf8), source: "seed.json")
                Issue.record("bad material for a signing key was accepted")
            } catch {
                #expect(error.description.contains("\"material\" is not a ECC_NIST_P384 private key (\(reason))"), "\(error)")
                #expect(!error.description.contains(material))
            }
        }
        do {
            _ = try KeySeed(json: Array(#"{"keys": [{"id": "\#(id)", "keySpec": "ECC_NIST_P256", "keyUsage": "ENCRYPT_DECRYPT"}]}"#.utf8), source: "seed.json")
            Issue.record("ENCRYPT_DECRYPT for a P-256 key was accepted")
        } catch {
            #expect(error.description.contains("does not go with ECC_NIST_P256"), "\(error)")
        }
    }
}
