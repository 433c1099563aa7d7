import EnvSeal
@testable import EnvSealCLI
import EnvSealFormat
import KMSClient
import KMSWire
@testable import SealedDotenv
import Testing

/// The one classification of the lower layers' errors, and what is derived from it: the
/// library's `LoadError.Cause` and the CLI's exit code (docs/CLI.md), the same through `exec`
/// (which goes through `SealedEnvironment.load`) as through every other command.
@Suite("errors: one classification, the library's cause and the CLI's exit code")
struct ErrorClassificationTests {
    typealias Kind = ErrorClassification.Kind
    typealias Cause = SealedEnvironment.LoadError.Cause

    struct Row: Sendable, CustomTestStringConvertible {
        let error: any Error
        let kind: Kind
        let variable: String?
        let cause: Cause
        let exitCode: Int32

        init(_ error: any Error, _ kind: Kind, variable: String? = nil, _ cause: Cause, _ exitCode: Int32) {
            self.error = error
            self.kind = kind
            self.variable = variable
            self.cause = cause
            self.exitCode = exitCode
        }

        var testDescription: String { "\(type(of: error)) \(error) → \(kind), \(cause), \(exitCode)" }
    }

    /// An error none of the layers below knows.
    struct ForeignError: Error, CustomStringConvertible {
        var description: String { "the password is hunter2" }
    }

    static let context = try! EncryptionContext(["app": "billing"])

    static let rows: [Row] = [
        Row(FormatError(.changedVariable(name: "DB")), .tampered, variable: "DB", .tampered, 51),
        Row(FormatError(.valueNotAuthentic(name: "DB")), .tampered, variable: "DB", .tampered, 51),
        Row(FormatError(.missingVariable(name: "DB")), .tampered, variable: "DB", .tampered, 51),
        Row(FormatError(.unlistedVariable(name: "LD_PRELOAD")), .tampered, variable: "LD_PRELOAD", .tampered, 51),
        Row(FormatError(.headerMACMismatch), .tampered, .tampered, 51),
        Row(FormatError(.authenticationFailed(what: "the header")), .tampered, .tampered, 51),
        Row(FormatError(.truncated(field: "the header")), .malformed, .malformed, 65),
        Row(FormatError(.unknownVersion(9)), .malformed, .malformed, 65),
        Row(FormatError(.invalidBase64(field: "the header")), .malformed, .malformed, 65),
        Row(SealedFileError(.notSealed), .notSealed, .notSealed, 65),
        Row(SealedFileError(.sealedValueWithoutHeader(name: "DB")), .tampered, variable: "DB", .tampered, 51),
        Row(SealedFileError(.unexpectedContext(found: context, expected: .empty)), .tampered, .tampered, 51),
        Row(SealedFileError(.unexpectedKey(expected: "alias/app")), .tampered, .tampered, 51),
        Row(SealedFileError(.noSuchVariable(name: "NOPE")), .invalidSelection, variable: "NOPE", .malformed, 64),
        Row(SealedFileError(.invalidName(name: "1X")), .invalidSelection, variable: "1X", .malformed, 64),
        Row(SealedFileError(.invalidPattern(pattern: "(", reason: "unbalanced")), .invalidSelection, .malformed, 64),
        Row(SealedFileError(.nothingSelected), .invalidSelection, .malformed, 64),
        Row(SealedFileError(.alreadySealed), .malformed, .malformed, 65),
        Row(RecoveryKeyError(.wrongPassphrase), .wrongRecoveryKey, .recoveryKey, 52),
        Row(RecoveryKeyError(.noSlotForRecipient("esr1:x")), .wrongRecoveryKey, .recoveryKey, 52),
        Row(RecoveryKeyError(.passphraseRequired), .notConfigured, .notConfigured, 78),
        Row(RecoveryKeyError(.damagedKeyFile("its checksum does not match")), .malformed, .malformed, 65),
        Row(RecoveryKeyError(.malformedKeyFile("no key line")), .malformed, .malformed, 65),
        Row(SealedFileError(.duplicateVariable(name: "A")), .malformed, variable: "A", .malformed, 65),
        Row(SealedFileError(.invalidValue(name: "A", reason: "it contains a NUL byte")), .malformed, variable: "A", .malformed, 65),
        Row(SealedFileError(.notLambdaCiphertext(name: "A")), .malformed, variable: "A", .malformed, 65),
        Row(DotenvError(kind: .missingEquals, line: 3, column: 4), .malformed, .malformed, 65),
        Row(DotenvFile.EditError.nulCharacterInValue, .malformed, .malformed, 65),
        Row(KMSError(.invalidCiphertext, "no"), .wrongKey, .keyService, 52),
        Row(KMSError(.incorrectKey, "no"), .wrongKey, .keyService, 52),
        Row(KMSError(.notFound, "no"), .keyUnavailable, .keyService, 53),
        Row(KMSError(.disabled, "no"), .keyUnavailable, .keyService, 53),
        Row(KMSError(.kmsInvalidState, "no"), .keyUnavailable, .keyService, 53),
        Row(KMSError(.accessDenied, "no"), .accessDenied, .keyService, 77),
        Row(KMSError(.unrecognizedClient, "no"), .accessDenied, .keyService, 77),
        Row(KMSError(.invalidSignature, "no"), .accessDenied, .keyService, 77),
        Row(KMSError(.incompleteSignature, "no"), .accessDenied, .keyService, 77),
        Row(KMSError(.missingAuthenticationToken, "no"), .accessDenied, .keyService, 77),
        Row(KMSError(.expiredToken, "no"), .accessDenied, .keyService, 77),
        Row(KMSError(.requestExpired, "no"), .accessDenied, .keyService, 77),
        Row(KMSError(.throttling, "no"), .keyServiceBusy, .keyService, 69),
        Row(KMSError(.internalFailure, "no"), .keyServiceBusy, .keyService, 69),
        Row(KMSError(.serviceUnavailable, "no"), .keyServiceBusy, .keyService, 69),
        Row(KMSError(.kmsInternal, "no"), .keyServiceBusy, .keyService, 69),
        Row(KMSError(.dependencyTimeout, "no"), .keyServiceRefused, .keyService, 1),
        Row(KMSError(.validation, "no"), .keyServiceRefused, .keyService, 1),
        Row(KMSError(KMSErrorType(rawValue: "NewException"), "no"), .keyServiceRefused, .keyService, 1),
        Row(KMSTransportError(.unreachable, "no"), .unreachable, .unreachable, 69),
        Row(KMSTransportError(.deadlineExceeded, "no"), .unreachable, .unreachable, 69),
        Row(KMSTransportError(.invalidResponse, "no"), .invalidResponse, .unreachable, 69),
        Row(KMSTransportError(.configuration, "no"), .notConfigured, .notConfigured, 78),
        Row(LambdaValueError(name: "DB", underlying: KMSError(.accessDenied, "no")), .accessDenied, variable: "DB", .keyService, 77),
        Row(LambdaValueError(name: "DB", underlying: FormatError(.authenticationFailed(what: "DB"))), .tampered, variable: "DB", .tampered, 51),
        Row(LambdaValueError(name: "DB", underlying: KMSTransportError(.deadlineExceeded, "no")), .unreachable, variable: "DB", .unreachable, 69),
        Row(ForeignError(), .unclassified, .malformed, 1),
    ]

    @Test(arguments: rows)
    func eachErrorHasOneMeaning(row: Row) {
        let classified = ErrorClassification(row.error)
        #expect(classified.kind == row.kind)
        #expect(classified.variable == row.variable)

        let loadError = SealedEnvironment.LoadError(describing: row.error)
        #expect(loadError.cause == row.cause)
        #expect(loadError.variable == row.variable)
        let keyServiceType = ((row.error as? LambdaValueError)?.underlying ?? row.error) as? KMSError
        #expect(loadError.keyServiceErrorType == keyServiceType?.type)
        #expect(classified.keyServiceErrorType == keyServiceType?.type)
        #expect((loadError.cause == .keyService) == (keyServiceType != nil))

        #expect(ErrorReport.cliError(row.error, file: "app.env").exitCode == row.exitCode)
        #expect(ExecOptions.cliError(loadError, place: "app.env").exitCode == row.exitCode)
    }

    /// Every kind has its cause and its documented exit code; a kind added without both fails here.
    @Test func everyKindHasACauseAndAnExitCode() {
        let table: [Kind: (Cause, Int32)] = [
            .notSealed: (.notSealed, 65), .tampered: (.tampered, 51), .malformed: (.malformed, 65),
            .invalidSelection: (.malformed, 64), .unreadable: (.unreadable, 66), .wrongKey: (.keyService, 52),
            .keyUnavailable: (.keyService, 53), .accessDenied: (.keyService, 77), .keyServiceBusy: (.keyService, 69),
            .keyServiceRefused: (.keyService, 1), .unreachable: (.unreachable, 69), .invalidResponse: (.unreachable, 69),
            .notConfigured: (.notConfigured, 78), .unclassified: (.malformed, 1), .wrongRecoveryKey: (.recoveryKey, 52),
        ]
        #expect(Set(table.keys) == Set(Kind.allCases))
        for kind in Kind.allCases {
            let error = SealedEnvironment.LoadError(kind, variable: nil, "x")
            #expect(error.cause == table[kind]?.0, "\(kind)")
            #expect(EnvSealExit.code(for: kind) == table[kind]?.1, "\(kind)")
        }
    }

    /// A dotenv syntax error read by the CLI is malformed input, located, as the library says.
    @Test func aDotenvSyntaxErrorIsMalformedInput() {
        let error = #expect(throws: CLIError.self) { _ = try FileIO.parseDotenv(Array("A=1\nB\n".utf8), from: "app.env") }
        #expect(error?.exitCode == 65)
        #expect(error?.message == "app.env:2:2: expected '=' after the variable name")
    }

    /// The messages stay what they were, and an error the library does not know is named by its
    /// type alone: its description might hold a secret.
    @Test func messagesNameTheErrorNeverAForeignDescription() {
        let refused = SealedEnvironment.LoadError(describing: LambdaValueError(name: "DB", underlying: KMSError(.accessDenied, "no")))
        #expect(refused.message == "DB: the key service refused: AccessDeniedException: no")
        #expect(ErrorReport.cliError(LambdaValueError(name: "DB", underlying: KMSError(.accessDenied, "no")), file: "app.env").message
            == "app.env: variable DB: the key service refused: AccessDeniedException: no")
        let foreign = SealedEnvironment.LoadError(describing: ForeignError())
        #expect(foreign.message == "ForeignError")
        #expect(!foreign.description.contains("hunter2"))
    }

    /// The hints of a refusal follow its meaning; a key that does not exist gets another one
    /// than a key that is disabled.
    @Test func hintsOfARefusal() {
        #expect(ErrorReport.cliError(KMSError(.notFound, "no"), file: nil).hint?.contains("envseal keys list") == true)
        #expect(ErrorReport.cliError(KMSError(.disabled, "no"), file: nil).hint?.contains("disabled or pending deletion") == true)
        #expect(ErrorReport.cliError(KMSError(.throttling, "no"), file: nil).hint == nil)
        let viaLoad = ExecOptions.cliError(SealedEnvironment.LoadError(describing: KMSError(.notFound, "no")), place: nil)
        #expect(viaLoad.hint == ErrorReport.cliError(KMSError(.notFound, "no"), file: nil).hint)
    }
}
