package import EnvSealFormat
import KMSWire

extension SealedFile {
    /// Which variables of the input the header must list.
    package enum Coverage: Sendable, Equatable {
        /// A sealed file's variables: every one must be listed; any other is tampering.
        case everyVariable
        /// A process environment: the header's variables are taken from it, and any value that
        /// looks sealed must be listed; the platform's own variables (`PATH`, `AWS_REGION`) are
        /// left alone.
        case listedVariables
    }

    /// What the caller expects of the sealed file it opens, so that another genuine sealed file
    /// (another app's, another stage's) cannot be put in its place.
    ///
    /// An older version of the same file, sealed with the same context and key, still matches:
    /// pin what makes files different, and see docs/THREAT_MODEL.md for that limit.
    ///
    /// ```swift
    /// let opened = try await sealer.open(file, expecting: .init(
    ///     context: try EncryptionContext(["app": "billing"]), keyID: "alias/billing"))
    /// ```
    package struct Expectation: Sendable, Equatable {
        /// The exact encryption context the header must name, or `nil` for any.
        package var context: EncryptionContext?
        /// The master key that must have wrapped the data key, as the caller names it (key ID,
        /// key ARN, alias name or alias ARN), or `nil` for any.
        ///
        /// It goes to the key service as Decrypt's `KeyId`, which refuses a data key of another
        /// key (an alias is resolved there, to the key it names at that moment); a key ID or key
        /// ARN is also compared with the ARN the key service reports.
        package var keyID: String?

        /// Creates an expectation.
        /// - Parameters:
        ///   - context: The exact context expected, or `nil`.
        ///   - keyID: The master key expected, or `nil`.
        package init(context: EncryptionContext? = nil, keyID: String? = nil) {
            self.context = context
            self.keyID = keyID
        }

        /// No expectation: any context, any key.
        package static let none = Expectation()

        /// Whether anything is pinned.
        package var isEmpty: Bool { context == nil && keyID == nil }

        /// Refuses a header of another context; done before the key service is asked.
        func check(_ header: SealedFileHeader) throws(SealedFileError) {
            if let context, header.context != context {
                throw SealedFileError(.unexpectedContext(found: header.context, expected: context))
            }
        }

        /// Unwraps the data key, naming the expected key to the key service and checking the ARN
        /// it reports.
        func unwrap(_ header: SealedFileHeader, with provider: any DataKeyProvider) async throws -> UnwrappedDataKey {
            guard let keyID else { return try await provider.unwrapDataKey(header.wrappedDataKey, context: header.context, keyID: nil) }
            let unwrapped: UnwrappedDataKey
            do {
                unwrapped = try await provider.unwrapDataKey(header.wrappedDataKey, context: header.context, keyID: keyID)
            } catch let error as KMSError where error.type == .incorrectKey {
                throw SealedFileError(.unexpectedKey(expected: keyID))
            }
            guard Self.reported(unwrapped.keyARN, matches: keyID) else { throw SealedFileError(.unexpectedKey(expected: keyID)) }
            return unwrapped
        }

        /// Whether a key ARN the key service reported is the key `keyID` names. A key ID or key
        /// ARN is compared here; an alias cannot be without asking the key service, which
        /// resolved it for Decrypt already.
        static func reported(_ arn: String, matches keyID: String) -> Bool {
            if keyID.hasPrefix("alias/") || (keyID.hasPrefix("arn:") && keyID.contains(":alias/")) { return true }
            if keyID.hasPrefix("arn:") { return arn == keyID }
            return arn.hasSuffix(":key/" + keyID)
        }
    }
}
