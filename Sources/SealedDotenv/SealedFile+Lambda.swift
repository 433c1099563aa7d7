package import EnvSealFormat
import Foundation
package import SodiumKit

/// Lambda-helper mode: each value a base64 KMS ciphertext made with the encryption context
/// `{"LambdaFunctionName": NAME}`, which is what AWS's console encryption helper produces. There
/// is no header and no MAC; opening costs one Decrypt per value (made concurrently). Empty values
/// stay empty: KMS encrypts 1 to 4,096 bytes.
extension SealedFile {
    /// The context key AWS's console helper binds each value to.
    package static let lambdaContextKey = "LambdaFunctionName"

    /// The encryption context of a function's values.
    /// - Parameter functionName: The function's name.
    /// - Returns: `{"LambdaFunctionName": functionName}`.
    /// - Throws: ``FormatError`` for a name the context cannot hold.
    package static func lambdaContext(functionName: String) throws(FormatError) -> EncryptionContext {
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
    package func sealForLambda(_ file: DotenvFile, keyID: String, functionName: String, selection: VariableSelection) async throws -> DotenvFile {
        guard file.value(of: SealedFileHeader.variableName) == nil else { throw SealedFileError(.alreadySealed) }
        let variables = try Self.variables(of: file)
        // KMS cannot encrypt an empty plaintext; an empty value stays empty.
        let chosen = variables.keys.filter { selection.includes($0) && !variables[$0]!.isEmpty }.sorted()
        guard !chosen.isEmpty else { throw SealedFileError(.nothingSelected) }
        let context = try Self.lambdaContext(functionName: functionName)
        for name in chosen where variables[name]!.utf8.contains(0) {
            throw SealedFileError(.invalidValue(name: name, reason: "it contains a NUL byte"))
        }
        let provider = self.provider
        // Each plaintext is copied into guarded memory only for its own call: a process can hold
        // only some tens of thousands of guarded allocations at once.
        let sealed = try await concurrently(chosen, step: .encrypting) { name in
            Base64.encode(try await provider.encrypt(try SecureBytes(utf8: variables[name]!), keyID: keyID, context: context), variant: .standard)
        }
        var edited = file
        let lines = Self.assignments(of: file)
        try edited.set(spellings: chosen.map { (name: $0, spelling: Self.quoted(sealed[$0]!, like: lines[$0]!.quoting)) })
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
    package func openLambda(environment: [String: String], names: [String], functionName: String) async throws -> [String: SecureBytes] {
        let context = try Self.lambdaContext(functionName: functionName)
        let blobs = try Self.lambdaBlobs(environment: environment, names: names)
        let provider = self.provider
        return try await concurrently(names, step: .decrypting) { name in
            try await provider.decrypt(blobs[name]!, context: context)
        }
    }

    /// Each named variable's KMS ciphertext.
    static func lambdaBlobs(environment: [String: String], names: [String]) throws(SealedFileError) -> [String: [UInt8]] {
        var blobs: [String: [UInt8]] = [:]
        for name in names {
            guard let text = environment[name] else { throw SealedFileError(.noSuchVariable(name: name)) }
            guard let blob = try? Base64.decode(text, variant: .standard), !blob.isEmpty else {
                throw SealedFileError(.notLambdaCiphertext(name: name))
            }
            blobs[name] = blob
        }
        return blobs
    }

    /// Decrypts the selected lambda-mode values of a file into a plain file.
    /// - Parameters:
    ///   - file: The file.
    ///   - functionName: The function the values are bound to.
    ///   - selection: Which variables hold ciphertexts.
    /// - Returns: The plain file.
    /// - Throws: As ``openLambda(environment:names:functionName:)``.
    package func decryptLambda(_ file: DotenvFile, functionName: String, selection: VariableSelection) async throws -> DotenvFile {
        let variables = try Self.variables(of: file)
        let names = variables.keys.filter { selection.includes($0) && !variables[$0]!.isEmpty }.sorted()
        let context = try Self.lambdaContext(functionName: functionName)
        let blobs = try Self.lambdaBlobs(environment: variables, names: names)
        let provider = self.provider
        // Each plaintext becomes text as soon as it arrives, so guarded allocations do not pile up.
        let texts = try await concurrently(names, step: .decrypting) { name in
            guard let text = try await provider.decrypt(blobs[name]!, context: context).utf8String() else {
                throw SealedFileError(.invalidValue(name: name, reason: "it is not UTF-8 text"))
            }
            return text
        }
        // Only the value was encrypted, so each goes back in the quotes its line kept when they hold
        // it as written (which gives back the bytes the file had), else as `set` writes it.
        let lines = Self.assignments(of: file)
        var spelled: [(name: String, spelling: String)] = []
        var others: [(name: String, value: String)] = []
        for name in names {
            if let spelling = Self.spelling(of: texts[name]!, quotedLike: lines[name]!.quoting) {
                spelled.append((name, spelling))
            } else {
                others.append((name, texts[name]!))
            }
        }
        var plain = file
        try plain.set(spellings: spelled)
        try plain.set(others, keepingQuotes: true)
        return plain
    }

    /// Calls `call` for every name, at most ``lambdaCallsInFlight`` at a time, reporting progress
    /// every ``SealingProgress/interval`` completions; the first failure (by name order) is
    /// thrown, naming its variable.
    func concurrently<Result: Sendable>(
        _ names: [String], step: SealingProgress.Step, _ call: @escaping @Sendable (String) async throws -> Result
    ) async throws -> [String: Result] {
        defer { progress?(.finished) }
        let outcomes = await withTaskGroup(of: (String, Swift.Result<Result, any Error>).self) { group in
            func add(_ name: String) {
                group.addTask {
                    do { return (name, .success(try await call(name))) } catch { return (name, .failure(error)) }
                }
            }
            var pending = names.makeIterator()
            for _ in 0..<Self.lambdaCallsInFlight {
                guard let name = pending.next() else { break }
                add(name)
            }
            var outcomes: [String: Swift.Result<Result, any Error>] = [:]
            for await (name, outcome) in group {
                outcomes[name] = outcome
                report(step, outcomes.count, names.count)
                if let next = pending.next() { add(next) }
            }
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

extension SealedFile {
    /// `value` in a quoting with nothing escaped but `\\` and `\"` in double quotes, if that
    /// reads back as exactly `value` here.
    static func spelling(of value: String, quotedLike quoting: DotenvFile.Quoting) -> String? {
        let spelling = switch quoting {
        case .none: value
        case .single: "'" + value + "'"
        case .backtick: "`" + value + "`"
        case .double: "\"" + value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
        }
        guard let (decoded, kind) = DotenvFile.value(ofSpelling: spelling.utf8), kind == quoting,
              decoded.utf8.elementsEqual(value.utf8)
        else { return nil }
        return spelling
    }

    /// KMS calls a lambda-mode operation keeps in flight: enough to hide each call's latency,
    /// few enough that a large file neither floods the key service nor runs out of memory.
    static let lambdaCallsInFlight = 32
}

/// A key-service call for one lambda-mode value failed.
package struct LambdaValueError: Error, CustomStringConvertible {
    /// The variable.
    package let name: String
    /// The provider's error.
    package let underlying: any Error

    package var description: String { "\(name): \(underlying)" }
}
