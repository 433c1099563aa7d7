package import EnvSealFormat
package import SodiumKit

/// Seals, opens and edits dotenv files in envelope mode (docs/FORMAT.md): one data key per file,
/// every chosen value sealed under it with its name bound in, and the `ENVSEAL` header holding
/// the wrapped data key and a MAC over every sealed value and every covered plain one.
///
/// Values are sealed deterministically (XChaCha20-SIV under the file's data key), so a value
/// that did not change keeps its exact ciphertext across ``set(_:to:in:)``, ``unset(_:in:)`` and
/// an edit: diffs show only what changed. Every operation that changes a sealed file opens and
/// verifies it first, so a tampered file is never re-MACed into looking genuine.
///
/// ```swift
/// let sealer = SealedFile(provider: provider)
/// let sealed = try await sealer.seal(try DotenvFile.parse(bytes), keyID: "alias/app",
///                                    context: try EncryptionContext(["app": "billing"]), selection: .all)
/// let opened = try await sealer.open(sealed)   // one Decrypt call, whatever the number of values
/// // Any of several keys: one slot each in the header.
/// let shared = try await sealer.seal(plain, for: [.kms(keyID: "alias/app", context: .empty),
///                                                  .kms(keyID: "alias/app-dr", context: .empty)], selection: .all)
/// ```
package struct SealedFile: Sendable {
    /// Where data keys are made and unwrapped, in the order they are tried (never empty).
    package let providers: [any DataKeyProvider]
    /// Recovery identities whose recipient slots may open a file, tried before any key service.
    package let recoveryIdentities: [RecoveryIdentity]
    /// Receives how far long operations have come, or `nil`.
    package let progress: SealingProgress.Handler?

    /// The first key service.
    package var provider: any DataKeyProvider { providers[0] }

    /// Creates the operations over a provider.
    /// - Parameters:
    ///   - provider: The key service side.
    ///   - recoveryIdentities: Recovery key pairs that may open recipient slots.
    ///   - progress: Receives progress reports (see ``SealingProgress``), for a display.
    package init(provider: any DataKeyProvider, recoveryIdentities: [RecoveryIdentity] = [], progress: SealingProgress.Handler? = nil) {
        self.init(providers: [provider], recoveryIdentities: recoveryIdentities, progress: progress)
    }

    /// Creates the operations over several key services (endpoints), tried in order: a key-service
    /// slot is tried against each in turn, and a key is made or wrapped at the first that knows it.
    /// - Parameters:
    ///   - providers: The key services, at least one.
    ///   - recoveryIdentities: Recovery key pairs that may open recipient slots.
    ///   - progress: Receives progress reports (see ``SealingProgress``), for a display.
    package init(providers: [any DataKeyProvider], recoveryIdentities: [RecoveryIdentity] = [], progress: SealingProgress.Handler? = nil) {
        precondition(!providers.isEmpty, "SealedFile needs at least one key service")
        self.providers = providers
        self.recoveryIdentities = recoveryIdentities
        self.progress = progress
    }

    /// Seals a plain dotenv file.
    ///
    /// Selected variables are sealed; the others stay plain and are covered by the MAC, so changing
    /// them later is detected too (edit them with `envseal edit` or `set`).
    /// - Parameters:
    ///   - file: The plain file.
    ///   - keyID: The master key (ID, ARN or alias).
    ///   - context: The encryption context the data key is bound to.
    ///   - selection: Which variables to seal.
    /// - Returns: The sealed file: the same lines, values replaced, `ENVSEAL` appended.
    /// - Throws: ``SealedFileError`` for an already sealed file, duplicate names or an empty
    ///   selection; ``FormatError``; or the provider's error.
    package func seal(_ file: DotenvFile, keyID: String, context: EncryptionContext, selection: VariableSelection) async throws -> DotenvFile {
        try await seal(file, for: [.kms(keyID: keyID, context: context)], selection: selection)
    }

    /// Seals a plain dotenv file for several keys: one slot per target, any of which opens it.
    ///
    /// The data key is made by the first key-service target (GenerateDataKey) and wrapped under
    /// the others with Encrypt; with recipients only, it is made here. See ``seal(_:keyID:context:selection:)``.
    /// - Parameters:
    ///   - file: The plain file.
    ///   - targets: The keys and recipients to seal for, in slot order (1 to 255).
    ///   - selection: Which variables to seal.
    /// - Returns: The sealed file.
    /// - Throws: As ``seal(_:keyID:context:selection:)``.
    package func seal(_ file: DotenvFile, for targets: [SlotTarget], selection: VariableSelection) async throws -> DotenvFile {
        defer { progress?(.finished) }
        guard file.value(of: SealedFileHeader.variableName) == nil else { throw SealedFileError(.alreadySealed) }
        let variables = try Self.variables(of: file)
        let chosen = variables.keys.filter { selection.includes($0) }
        guard !chosen.isEmpty else { throw SealedFileError(.nothingSelected) }
        let made = try await newDataKey(for: targets)
        let keys = try SealedFileKeys(dataKey: made.dataKey)
        var sealed: [String: String] = [:]
        sealed.reserveCapacity(chosen.count)
        let assignments = Self.assignments(of: file)
        for (index, name) in chosen.enumerated() {
            report(.sealing, index, chosen.count)
            sealed[name] = try Self.seal(assignments[name]!, keys: keys)
        }
        let covered = variables.filter { sealed[$0.key] == nil }
        return try Self.write(
            into: file, slots: made.slots, variables: SealedFileHeader.Variables(sealed: sealed, covered: covered), keys: keys)
    }

    /// Verifies a sealed file and opens every sealed value, with one unwrap of the data key.
    ///
    /// The header's slots are tried in order (recipient slots first, when a recovery identity for
    /// them was given): a slot whose key service cannot be reached, or refuses the key (disabled,
    /// deleted, not found, access denied, not its ciphertext), moves on to the next. When the first
    /// slot opens, the key service is called once.
    ///
    /// Every variable of the file must be one the header covers: a variable added to a sealed
    /// file (`LD_PRELOAD`, `PATH`) is tampering, refused before the key service is asked.
    /// - Parameters:
    ///   - file: The sealed file.
    ///   - expectation: The context and key the caller expects of the file, if any.
    /// - Returns: The plaintexts and what the header says.
    /// - Throws: ``SealedFileError`` (not sealed, a sealed value without a header, duplicate
    ///   names, another context or key than expected), ``FormatError`` (a malformed header or
    ///   value; tampering, naming the variable), or the provider's error.
    package func open(_ file: DotenvFile, expecting expectation: Expectation = .none) async throws -> OpenedFile {
        try await open(environment: try Self.variables(of: file), coverage: .everyVariable, expecting: expectation)
    }

    /// Verifies and opens a sealed environment given as variables.
    /// - Parameters:
    ///   - environment: Every variable, the header's included.
    ///   - coverage: Which of them the header must list: ``Coverage/listedVariables`` for a
    ///     process environment (the default), ``Coverage/everyVariable`` for a file's variables.
    ///   - expectation: The context and key the caller expects, if any.
    /// - Returns: The plaintexts and what the header says.
    /// - Throws: As ``open(_:expecting:)``.
    package func open(
        environment: [String: String], coverage: Coverage = .listedVariables, expecting expectation: Expectation = .none
    ) async throws -> OpenedFile {
        defer { progress?(.finished) }
        guard let text = environment[SealedFileHeader.variableName] else {
            if let name = environment.keys.sorted().first(where: { SealedValue.isSealed(environment[$0]!) }) {
                throw SealedFileError(.sealedValueWithoutHeader(name: name))
            }
            throw SealedFileError(.notSealed)
        }
        let header = try SealedFileHeader(parsing: text)
        if coverage == .everyVariable { try header.checkListsEvery(environment.keys) }
        try expectation.check(header)
        let variables = SealedFileHeader.Variables(environment: environment, header: header)
        let unwrapped = try await unwrapDataKey(of: header, expecting: expectation)
        let keys = try SealedFileKeys(dataKey: unwrapped.dataKey)
        progress?(.working(.opening, done: 0, total: header.entries.count))
        let (values, spellings) = try header.openValuesAndSpellings(variables, keys: keys)
        return OpenedFile(header: header, keyARN: unwrapped.keyARN, slotIndex: unwrapped.slot, dataKey: unwrapped.dataKey, keys: keys,
                          variables: variables, values: values, spellings: spellings)
    }

    /// Sets one variable to a sealed value; every other value keeps its exact text.
    /// - Parameters:
    ///   - name: The variable (new, sealed, or a covered plain one that becomes sealed).
    ///   - value: The plaintext.
    ///   - file: The sealed file.
    /// - Returns: The file with the value and the header changed.
    /// - Throws: As ``open(_:)``, and ``SealedFileError`` `.invalidName` / `.invalidValue`.
    package func set(_ name: String, to value: SecureBytes, in file: DotenvFile) async throws -> DotenvFile {
        guard DotenvFile.isValidName(name), name != SealedFileHeader.variableName else {
            throw SealedFileError(.invalidName(name: name))
        }
        let opened = try await open(file)
        var variables = opened.variables
        variables.covered[name] = nil
        variables.sealed[name] = try Self.sealValue(value, name: name, keys: opened.keys)
        return try Self.write(into: file, slots: opened.header.slots, variables: variables, keys: opened.keys)
    }

    /// Removes a variable (sealed or covered plain) and re-MACs the header.
    /// - Parameters:
    ///   - name: The variable.
    ///   - file: The sealed file.
    /// - Returns: The file without the variable.
    /// - Throws: As ``open(_:)``, and ``SealedFileError`` `.noSuchVariable`.
    package func unset(_ name: String, in file: DotenvFile) async throws -> DotenvFile {
        let opened = try await open(file)
        guard name != SealedFileHeader.variableName, file.value(of: name) != nil else {
            throw SealedFileError(.noSuchVariable(name: name))
        }
        var variables = opened.variables
        variables.sealed[name] = nil
        variables.covered[name] = nil
        var edited = file
        edited.remove(name)
        return try Self.write(into: edited, slots: opened.header.slots, variables: variables, keys: opened.keys)
    }

    /// Seals every value again under a new data key from the newest version of the master key,
    /// wrapped for the same slots: every key-service slot under its key and context, every
    /// recipient slot sealed to its recipient again.
    /// - Parameters:
    ///   - file: The sealed file.
    ///   - keyID: A master key to move a single-key file to, or `nil` to keep the file's keys.
    /// - Returns: The re-sealed file (every sealed value changes).
    /// - Throws: As ``open(_:)``; ``SealedFileError`` `.slotKeyUnknown` for a key-service slot
    ///   whose key cannot be named, `.severalKeySlots` for `keyID` with several key-service slots.
    package func rotate(_ file: DotenvFile, keyID: String? = nil) async throws -> DotenvFile {
        let opened = try await open(file)
        let made = try await newDataKey(for: try targets(of: opened, movingTo: keyID))
        let keys = try SealedFileKeys(dataKey: made.dataKey)
        defer { progress?(.finished) }
        var variables = opened.variables
        for (index, (name, value)) in opened.values.enumerated() {
            report(.sealing, index, opened.values.count)
            variables.sealed[name] = try opened.spellings[name].map { try SealedValue.sealSpelling($0, name: name, keys: keys) }
                ?? Self.sealValue(value, name: name, keys: keys)
        }
        return try Self.write(into: file, slots: made.slots, variables: variables, keys: keys)
    }

    /// Wraps the file's data key again (ReEncrypt) under the newest version of each key-service
    /// slot's master key, or a single-key file's under another key; the sealed values do not change.
    ///
    /// The header's MAC covers the slots, so the file is opened first (one Decrypt) to check it
    /// and to MAC the new header. Recipient slots stay as they are.
    /// - Parameters:
    ///   - file: The sealed file.
    ///   - destinationKeyID: The master key to wrap under, or `nil` for each slot's own.
    /// - Returns: The file with a new header and the same values.
    /// - Throws: As ``rotate(_:keyID:)``.
    package func rewrap(_ file: DotenvFile, destinationKeyID: String? = nil) async throws -> DotenvFile {
        let opened = try await open(file)
        let targets = try targets(of: opened, movingTo: destinationKeyID)
        var slots: [SealedFileHeader.Slot] = []
        for (slot, target) in zip(opened.header.slots, targets) {
            guard case .kms(let kms) = slot, case .kms(let keyID, _) = target else {
                slots.append(slot)
                continue
            }
            let wrapped = try await firstAnswer { provider in
                try await provider.rewrapDataKey(kms.wrappedDataKey, context: kms.context, destinationKeyID: keyID)
            }
            slots.append(.kms(.init(keyARN: kms.keyARN, context: kms.context, wrappedDataKey: wrapped)))
        }
        return try Self.write(into: file, slots: slots, variables: opened.variables, keys: opened.keys)
    }

    /// Seals an edited plain copy of a sealed file under the original's data key: what `envseal
    /// edit` writes back.
    ///
    /// Variables that were sealed stay sealed, new variables are sealed, and variables that were
    /// covered plain stay plain and covered. Lines keep the edited layout; a value that did not
    /// change gets its exact old ciphertext back (SIV under the same key), so diffs stay quiet.
    /// - Parameters:
    ///   - edited: The edited plain file (as ``decrypt(_:)`` gave it, then changed).
    ///   - original: The sealed file it came from.
    /// - Returns: The new sealed file.
    /// - Throws: As ``open(_:)``; ``SealedFileError`` for duplicate names or an `ENVSEAL` line in
    ///   the edited text.
    package func reseal(_ edited: DotenvFile, from original: DotenvFile) async throws -> DotenvFile {
        let opened = try await open(original)
        guard edited.value(of: SealedFileHeader.variableName) == nil else {
            throw SealedFileError(.invalidName(name: SealedFileHeader.variableName))
        }
        let plain = try Self.variables(of: edited)
        let assignments = Self.assignments(of: edited)
        let wasCovered = Set(opened.coveredNames)
        defer { progress?(.finished) }
        var sealed: [String: String] = [:]
        var covered: [String: String] = [:]
        for (index, (name, value)) in plain.enumerated() {
            report(.sealing, index, plain.count)
            if wasCovered.contains(name) {
                covered[name] = value
            } else {
                sealed[name] = try Self.seal(assignments[name]!, keys: opened.keys)
            }
        }
        return try Self.write(into: edited, slots: opened.header.slots,
                              variables: SealedFileHeader.Variables(sealed: sealed, covered: covered), keys: opened.keys)
    }

    /// Opens a sealed file into the plain file it came from: values in plaintext, no header.
    /// - Parameter file: The sealed file.
    /// - Returns: The plain file.
    /// - Throws: As ``open(_:)``, and ``SealedFileError`` `.invalidValue` for a value that is not
    ///   UTF-8 (a dotenv file holds text).
    package func decrypt(_ file: DotenvFile) async throws -> DotenvFile {
        let opened = try await open(file)
        var plain = file
        plain.remove(SealedFileHeader.variableName)
        // A header appended to a file without a final newline has none either (see `write`).
        if !file.endsWithLineEnding { plain.removeFinalLineEnding() }
        var texts: [(name: String, value: String)] = []
        var spellings: [(name: String, spelling: String)] = []
        for name in opened.values.keys.sorted() {
            // A value sealed with its spelling goes back exactly as it was written.
            let spelled = opened.spellings[name]
            guard let text = (spelled ?? opened.values[name]!).utf8String() else {
                throw SealedFileError(.invalidValue(name: name, reason: "it is not UTF-8 text"))
            }
            do {
                try DotenvFile.check(name, text)
            } catch {
                throw SealedFileError(.invalidValue(name: name, reason: error.description))
            }
            if spelled != nil { spellings.append((name, text)) } else { texts.append((name, text)) }
        }
        try plain.set(texts, keepingQuotes: true)
        do {
            try plain.set(spellings: spellings)
        } catch {
            // Opening checked every spelling already; name the one refused all the same.
            let name = spellings.first { DotenvFile.value(ofSpelling: $0.spelling.utf8) == nil }?.name ?? spellings[0].name
            throw SealedFileError(.invalidValue(name: name, reason: error.description))
        }
        return plain
    }

    /// The size Lambda counts against its 4 KB limit: the UTF-8 bytes of every name and value.
    /// - Parameter file: A file.
    /// - Returns: The byte count.
    package static func environmentSize(of file: DotenvFile) -> Int {
        file.assignments.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
    }

    /// Lambda's limit on a function's environment: 4 KB, names and values together.
    package static let lambdaEnvironmentLimit = 4096

    // MARK: - Helpers

    /// Reports a loop's progress every ``SealingProgress/interval`` values.
    func report(_ step: SealingProgress.Step, _ done: Int, _ total: Int) {
        if let progress, done % SealingProgress.interval == 0 { progress(.working(step, done: done, total: total)) }
    }

    /// The file's variables by name; refuses duplicates, which would make the covered value
    /// ambiguous.
    static func variables(of file: DotenvFile) throws(SealedFileError) -> [String: String] {
        if let duplicate = file.duplicateNames().first { throw SealedFileError(.duplicateVariable(name: duplicate)) }
        var variables: [String: String] = [:]
        for assignment in file.assignments { variables[assignment.name] = assignment.value }
        return variables
    }

    /// The assignments of a file by name (the last of each name).
    static func assignments(of file: DotenvFile) -> [String: DotenvFile.Assignment] {
        var assignments: [String: DotenvFile.Assignment] = [:]
        for assignment in file.assignments { assignments[assignment.name] = assignment }
        return assignments
    }

    /// Seals an assignment's value, or its spelling when the value alone would not give the line
    /// back (`"\u00e9"`, `K=${X}`, `A=abc#def`): see docs/FORMAT.md, section 3.
    static func seal(_ assignment: DotenvFile.Assignment, keys: SealedFileKeys) throws -> String {
        if assignment.hasCanonicalSpelling { return try sealValue(assignment.value, name: assignment.name, keys: keys) }
        return try SealedValue.sealSpelling(try SecureBytes(utf8: assignment.rawValue), name: assignment.name, keys: keys)
    }

    static func sealValue(_ value: String, name: String, keys: SealedFileKeys) throws -> String {
        guard !value.utf8.contains(0) else { throw SealedFileError(.invalidValue(name: name, reason: "it contains a NUL byte")) }
        return try sealValue(try SecureBytes(utf8: value), name: name, keys: keys)
    }

    static func sealValue(_ value: SecureBytes, name: String, keys: SealedFileKeys) throws -> String {
        let hasNUL = value.withUnsafeBytes { $0.contains(0) }
        guard !hasNUL else { throw SealedFileError(.invalidValue(name: name, reason: "it contains a NUL byte")) }
        return try SealedValue.seal(value, name: name, keys: keys)
    }

    /// Writes the sealed values and a new (version 2) header into the file, touching only changed
    /// lines.
    static func write(
        into file: DotenvFile, slots: [SealedFileHeader.Slot], variables: SealedFileHeader.Variables, keys: SealedFileKeys
    ) throws -> DotenvFile {
        let header = try SealedFileHeader.make(slots: recordingARNs(slots), variables: variables, keys: keys)
        var edited = file
        let current = assignments(of: edited)
        // A sealed text keeps the quotes of the line it replaces (it fits in any), so the line's
        // look and any comment glued to a closing quote stay as they were.
        try edited.set(spellings: variables.sealed.sorted(by: { $0.key < $1.key }).filter { current[$0.key]?.value != $0.value }
            .map { (name: $0.key, spelling: Self.quoted($0.value, like: current[$0.key]?.quoting ?? .none)) })
        let hadFinalLineEnding = edited.endsWithLineEnding
        try edited.set(SealedFileHeader.variableName, to: header.text)
        if !hadFinalLineEnding { edited.removeFinalLineEnding() }
        return edited
    }
}

extension SealedFile {
    /// A sealed text (base64url and a prefix, safe in any quoting) written in a quoting.
    static func quoted(_ text: String, like quoting: DotenvFile.Quoting) -> String {
        switch quoting {
        case .none: text
        case .single: "'" + text + "'"
        case .double: "\"" + text + "\""
        case .backtick: "`" + text + "`"
        }
    }
}

/// A verified sealed file or environment, opened.
package struct OpenedFile: Sendable {
    /// The parsed header.
    package let header: SealedFileHeader
    /// The ARN of the master key that unwrapped the data key, as the key service reported it, or
    /// `nil` when a recipient slot opened the file.
    package let keyARN: String?
    /// The index in ``SealedFileHeader/slots`` of the slot that opened the file.
    package let slotIndex: Int
    /// The file's data key (for wrapping it for another slot within this module).
    let dataKey: DataKey
    /// The file's keys (for re-sealing within this module).
    let keys: SealedFileKeys
    /// The sealed and covered variables as they stand.
    let variables: SealedFileHeader.Variables
    /// Every sealed variable's plaintext, in guarded memory.
    package let values: [String: SecureBytes]
    /// The spellings of the variables sealed with theirs (`es2:`), as written in the plain file.
    let spellings: [String: SecureBytes]

    /// The names of the covered plain variables.
    package var coveredNames: [String] { header.coveredNames }
}
