import EnvSealFormat
import Foundation
import KMSWire
import KeyService
import SealedDotenv
import SodiumKit
import Testing

@Suite struct LambdaModeTests {
    @Test func encryptAndDecryptOneCallPerValue() async throws {
        let f = try await Fixture()
        var plain = DotenvFile()
        for i in 0..<20 { try plain.set("SECRET_\(i)", to: "value-number-\(i)-abcdef") }
        try plain.set("LOG_LEVEL", to: "info")
        let sealed = try await f.sealer.sealForLambda(plain, keyID: f.keyARN, functionName: "billing-fn",
                                                      selection: try VariableSelection(only: "^SECRET_", except: nil))
        #expect(f.transport.count(.encrypt) == 20)
        #expect(sealed.value(of: "LOG_LEVEL") == "info")
        #expect(Data(base64Encoded: sealed.value(of: "SECRET_3")!) != nil)
        // The ciphertext is an ordinary KMS blob bound to the function's name.
        let blob = Data(base64Encoded: sealed.value(of: "SECRET_3")!)!
        let direct = try await f.engine.decrypt(.init(ciphertextBlob: blob, encryptionContext: ["LambdaFunctionName": "billing-fn"]), by: f.admin)
        #expect(direct.plaintext == Data("value-number-3-abcdef".utf8))

        let decrypted = try await f.sealer.decryptLambda(sealed, functionName: "billing-fn",
                                                         selection: try VariableSelection(only: "^SECRET_", except: nil))
        #expect(f.transport.count(.decrypt) == 20)
        for i in 0..<20 { #expect(decrypted.value(of: "SECRET_\(i)") == "value-number-\(i)-abcdef") }
    }

    @Test func anotherFunctionsNameIsRefusedNamingTheVariable() async throws {
        let f = try await Fixture()
        var plain = DotenvFile()
        try plain.set("DB_PASSWORD", to: "correct-horse")
        let sealed = try await f.sealer.sealForLambda(plain, keyID: f.keyARN, functionName: "billing-fn", selection: .all)
        let error = await thrown {
            _ = try await f.sealer.decryptLambda(sealed, functionName: "payroll-fn", selection: .all)
        }
        let failure = try #require(error as? LambdaValueError)
        #expect(failure.name == "DB_PASSWORD")
        #expect((failure.underlying as? KMSError)?.type == .invalidCiphertext)
        #expect(!"\(failure)".contains("correct-horse"))
    }

    @Test func aValueThatIsNotBase64() async throws {
        let f = try await Fixture()
        let error = await thrown {
            _ = try await f.sealer.openLambda(environment: ["A": "not base64!"], names: ["A"], functionName: "fn")
        }
        #expect((error as? SealedFileError)?.kind == .notLambdaCiphertext(name: "A"))
    }
}
