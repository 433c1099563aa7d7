package import EnvSealFormat
package import Foundation
import KMSClient
package import KMSWire
package import SodiumKit

/// The key service of a recovery-key open: none. Every request fails at once, and no connection
/// is ever made, so nothing of the open reaches a key service or its audit log.
package struct NoKeyServiceTransport: KMSTransport {
    package init() {}

    /// Refuses the request without sending it anywhere.
    /// - Throws: `KMSTransportError` `.configuration`, naming the operation.
    package func send(_ operation: KMSOperation, body: Data) async throws -> Data {
        throw KMSTransportError(.configuration, "no key service is used with a recovery key, and this needs one (\(operation.name))")
    }
}

extension RecoveryIdentity {
    /// The identity of a recovery key pair, as a recovery key file unlocks it.
    /// - Parameter keyPair: The X25519 key pair.
    package init(_ keyPair: BoxKeyPair) {
        self.init(publicKey: keyPair.publicKey, secretKey: keyPair.secretKey)
    }

    /// The recipient this identity opens, in text form.
    package var recipientText: String {
        (try? RecoveryRecipient(publicKey: publicKey).text) ?? "(a recipient that is not 32 bytes)"
    }
}

extension SealedFile {
    /// Operations that open files with recovery identities alone: no key service is configured,
    /// none is called, and an operation that needs one (a key-service slot to add, a rotation
    /// under a master key) fails without connecting anywhere.
    /// - Parameters:
    ///   - identities: The recovery key pairs.
    ///   - progress: Receives progress reports, for a display.
    /// - Returns: The operations.
    package static func offline(_ identities: [RecoveryIdentity], progress: SealingProgress.Handler? = nil) -> SealedFile {
        SealedFile(provider: KMSDataKeyProvider(client: KMSClient(transport: NoKeyServiceTransport())),
                   recoveryIdentities: identities, progress: progress)
    }

    /// Refuses, before anything is opened, a sealed file none of whose recipient slots is for one
    /// of `identities`: a clearer error than each key-service slot failing for want of a key
    /// service. A header that does not parse is left to the open that follows, which reports it.
    /// - Parameters:
    ///   - header: The `ENVSEAL` header's text, or `nil` when there is none.
    ///   - identities: The recovery identities given.
    /// - Throws: ``RecoveryKeyError`` `.noSlotForRecipient`, naming the first identity's recipient.
    package static func requireRecipientSlot(in header: String?, for identities: [RecoveryIdentity]) throws(RecoveryKeyError) {
        guard let first = identities.first, let header, let parsed = try? SealedFileHeader(parsing: header) else { return }
        let opens = parsed.slots.contains { slot in
            guard case .recipient(let recipient) = slot else { return false }
            return identities.contains { ConstantTime.equal($0.publicKey, recipient.publicKey) }
        }
        guard opens else { throw RecoveryKeyError(.noSlotForRecipient(first.recipientText)) }
    }
}
