import EnvSealFormat
import Foundation
import SodiumKit

/// Lambda-helper mode: each value a base64 KMS ciphertext made with the encryption context
/// `{"LambdaFunctionName": NAME}`, which is what AWS's console encryption helper produces. There
/// is no header and no MAC; opening costs one Decrypt per value (made concurrently). Empty values
/// stay empty: KMS encrypts 1 to 4,096 bytes.
extension SealedFile {
    /// The context key AWS's console helper binds each value to.
    public static let lambdaContextKey = "LambdaFunctionName"

    /// The encryption context of a function's values.
    /// - Parameter functionName: The function's name.
    /// - Returns: `{"LambdaFunctionName": functionName}`.
    /// - Throws: ``FormatError`` for a name the context cannot hold.
    public static func lambdaContext(functionName: String) throws(FormatError) -> EncryptionContext {
        try EncryptionContext([lambdaContextKey: functionName])
    }

    /// Encrypts the selected values of a plain file, one Encrypt call each.
    /// - Parameters:
    ///   - file: The plain file.
    ///   - keyID: The master key.
    ///   - functionName: The function the values are bound to.
    ///   - selection: Which variables to encrypt.
    /// - Returns: The file with each selected value replaced by base64 of its ciphertext blob.
    /// - Throws: ``SealedFileError``, or ``LambdaValueError`` naming the variable a call failed for.
    public func sealForLambda(_ file: DotenvFile, keyID: String, functionName: String, selection: VariableSelection) async throws -> DotenvFile {
        guard file.value(of: SealedFileHeader.variableName) == nil else { throw SealedFileError(.alreadySealed) }
        let variables = try Self.variables(of: file)
        // KMS cannot encrypt an empty plaintext; an empty value stays empty.
        let chosen = variables.keys.filter { selection.includes($0) && !variables[$0]!.isEmpty }.sorted()
        guard !chosen.isEmpty else { throw SealedFileError(.nothingSelected) }
        let context = try Self.lambdaContext(functionName: functionName)
        var plaintexts: [String: SecureBytes] = [:]
        for name in chosen {
            guard !variables[name]!.utf8.contains(0) else {
                throw SealedFileError(.invalidValue(name: name, reason: "it contains a NUL byte"))
            }
            plaintexts[name] = try SecureBytes(utf8: variables[name]!)
        }
        let provider = self.provider
        let inputs = plaintexts
        let sealed = try await Self.concurrently(chosen) { name in
            Base64.encode(try await provider.encrypt(inputs[name]!, keyID: keyID, context: context), variant: .standard)
        }
        var edited = file
        try edited.set(chosen.map { (name: $0, value: sealed[$0]!) }, keepingQuotes: true)
        return edited
    }

    /// Decrypts lambda-mode values, all calls at once.
    /// - Parameters:
    ///   - environment: The variables.
    ///   - names: The variables that hold ciphertexts.
    ///   - functionName: The function the values are bound to.
    /// - Returns: The plaintexts by name.
    /// - Throws: ``SealedFileError`` `.noSuchVariable`/`.notLambdaCiphertext`, or
    ///   ``LambdaValueError`` naming the variable a call failed for.
    public func openLambda(environment: [String: String], names: [String], functionName: String) async throws -> [String: SecureBytes] {
        let context = try Self.lambdaContext(functionName: functionName)
        var blobs: [String: [UInt8]] = [:]
        for name in names {
            guard let text = environment[name] else { throw SealedFileError(.noSuchVariable(name: name)) }
            guard let blob = try? Base64.decode(text, variant: .standard), !blob.isEmpty else {
                throw SealedFileError(.notLambdaCiphertext(name: name))
            }
            blobs[name] = blob
        }
        let provider = self.provider
        let inputs = blobs
        return try await Self.concurrently(names) { name in
            try await provider.decrypt(inputs[name]!, context: context)
        }
    }

    /// Decrypts the selected lambda-mode values of a file into a plain file.
    /// - Parameters:
    ///   - file: The file.
    ///   - functionName: The function the values are bound to.
    ///   - selection: Which variables hold ciphertexts.
    /// - Returns: The plain file.
    /// - Throws: As ``openLambda(environment:names:functionName:)``.
    public func decryptLambda(_ file: DotenvFile, functionName: String, selection: VariableSelection) async throws -> DotenvFile {
        let variables = try Self.variables(of: file)
        let names = variables.keys.filter { selection.includes($0) && !variables[$0]!.isEmpty }.sorted()
        let opened = try await openLambda(environment: variables, names: names, functionName: functionName)
        var plain = file
        var texts: [(name: String, value: String)] = []
        for name in names {
            guard let text = opened[name]!.utf8String() else {
                throw SealedFileError(.invalidValue(name: name, reason: "it is not UTF-8 text"))
            }
            texts.append((name, text))
        }
        try plain.set(texts, keepingQuotes: true)
        return plain
    }

    /// Runs one call per name at once; the first failure (by name order) is thrown, naming its
    /// variable.
    static func concurrently<Result: Sendable>(
        _ names: [String], _ call: @escaping @Sendable (String) async throws -> Result
    ) async throws -> [String: Result] {
        let outcomes = await withTaskGroup(of: (String, Swift.Result<Result, any Error>).self) { group in
            for name in names {
                group.addTask {
                    do { return (name, .success(try await call(name))) } catch { return (name, .failure(error)) }
                }
            }
            var outcomes: [String: Swift.Result<Result, any Error>] = [:]
            for await (name, outcome) in group { outcomes[name] = outcome }
            return outcomes
        }
        var results: [String: Result] = [:]
        for name in names {
            switch outcomes[name]! {
            case .success(let value): results[name] = value
            case .failure(let error): throw LambdaValueError(name: name, underlying: error)
            }
        }
        return results
    }
}

/// A key-service call for one lambda-mode value failed.
public struct LambdaValueError: Error, CustomStringConvertible {
    /// The variable.
    public let name: String
    /// The provider's error.
    public let underlying: any Error

    public var description: String { "\(name): \(underlying)" }
}
