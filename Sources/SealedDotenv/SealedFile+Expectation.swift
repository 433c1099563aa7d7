package import EnvSealFormat
import Foundation
import KMSWire
import SodiumKit

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

        /// Refuses a header none of whose key-service slots has the expected context; done
        /// before the key service is asked.
        func check(_ header: SealedFileHeader) throws(SealedFileError) {
            guard let context else { return }
            let slots = header.kmsSlots
            if !slots.isEmpty, !slots.contains(where: { $0.context == context }) {
                throw SealedFileError(.unexpectedContext(found: slots[0].context, expected: context))
            }
        }

        /// Unwraps a slot's data key, naming the expected key to the key service and checking the
        /// ARN it reports.
        func unwrap(_ slot: SealedFileHeader.KMSSlot, with provider: any DataKeyProvider) async throws -> UnwrappedDataKey {
            if let context, slot.context != context {
                throw SealedFileError(.unexpectedContext(found: slot.context, expected: context))
            }
            guard let keyID else { return try await provider.unwrapDataKey(slot.wrappedDataKey, context: slot.context, keyID: nil) }
            let unwrapped: UnwrappedDataKey
            do {
                unwrapped = try await provider.unwrapDataKey(slot.wrappedDataKey, context: slot.context, keyID: keyID)
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

extension SealedFile {
    /// Why one slot did not open a file.
    package struct SlotFailure: Sendable, Equatable, CustomStringConvertible {
        /// The slot's number, from 1, in header order.
        package let slot: Int
        /// The slot as a person would name it: its key (ARN, or the key ID of its ciphertext) or
        /// its recipient.
        package let what: String
        /// Why it did not open: the error's description, which holds no secret.
        package let why: String
        /// What kind of failure it was.
        package let kind: ErrorClassification.Kind

        package var description: String { "slot \(slot) (\(what)): \(why)" }
    }

    /// The data key of a header, from the first slot that gives it (see ``open(_:expecting:)``).
    func unwrapDataKey(
        of header: SealedFileHeader, expecting expectation: Expectation
    ) async throws -> (dataKey: DataKey, keyARN: String?, slot: Int) {
        var failures: [SlotFailure] = []
        var errors: [any Error] = []
        // Recipient slots first: a recovery key is given to open without any key service.
        let order = header.slots.indices.sorted { a, b in
            Self.isRecipient(header.slots[a]) && !Self.isRecipient(header.slots[b])
        }
        for index in order {
            switch header.slots[index] {
            case .recipient(let recipient):
                guard let identity = recoveryIdentities.first(where: { ConstantTime.equal($0.publicKey, recipient.publicKey) }) else {
                    continue
                }
                do {
                    let bytes = try SealedBox.open(recipient.sealedDataKey, publicKey: recipient.publicKey, secretKey: identity.secretKey)
                    return (try DataKey(secureBytes: bytes), nil, index)
                } catch {
                    let failure = FormatError(.authenticationFailed(what: "the data key sealed to the recovery key"))
                    failures.append(SlotFailure(slot: index + 1, what: Self.describe(header.slots[index]), why: failure.description,
                                                kind: .tampered))
                    errors.append(failure)
                }
            case .kms(let kms):
                for provider in providers {
                    do {
                        let unwrapped = try await expectation.unwrap(kms, with: provider)
                        return (unwrapped.dataKey, unwrapped.keyARN, index)
                    } catch where Self.passesToNextSlot(error) || Self.isOtherContext(error) {
                        failures.append(SlotFailure(slot: index + 1, what: Self.describe(header.slots[index]),
                                                    why: String(describing: error), kind: ErrorClassification(error).kind))
                        errors.append(error)
                    }
                }
            }
        }
        // One attempt: its own error, as a single-key file has always reported it.
        if errors.count == 1 { throw errors[0] }
        if errors.isEmpty { throw SealedFileError(.noSlotOpens(failures: [])) }
        if errors.allSatisfy({ ($0 as? SealedFileError).map(\.isTampering) ?? false }) { throw errors[0] }
        throw SealedFileError(.noSlotOpens(failures: failures))
    }

    static func isRecipient(_ slot: SealedFileHeader.Slot) -> Bool {
        if case .recipient = slot { return true }
        return false
    }

    static func isOtherContext(_ error: any Error) -> Bool {
        if let error = error as? SealedFileError, case .unexpectedContext = error.kind { return true }
        return false
    }

    /// A slot as `keys list` and error messages name it: never a secret.
    package static func describe(_ slot: SealedFileHeader.Slot) -> String {
        switch slot {
        case .kms(let kms):
            if let arn = kms.keyARN { return "key \(arn)" }
            if let blob = try? CiphertextBlob(parsing: kms.wrappedDataKey) { return "key \(blob.keyID.uuidString.lowercased())" }
            return "key not recorded"
        case .recipient(let recipient):
            return "recipient " + ((try? RecoveryRecipient(publicKey: recipient.publicKey).text) ?? Base64URL.encode(recipient.publicKey))
        }
    }
}
