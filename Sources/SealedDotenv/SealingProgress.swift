/// How far a long operation on a sealed file has come, for a progress display.
///
/// ``SealedFile`` reports while it seals or opens values (every few hundred values, not every one)
/// and reports ``finished`` when the operation ends, thrown errors included, so a display can
/// clear itself before anything else is printed. Reports carry counts only, never names or values.
package enum SealingProgress: Sendable, Equatable {
    /// What a ``SealingProgress/working(_:done:total:)`` report is doing.
    package enum Step: String, Sendable {
        /// Sealing values under the file's data key.
        case sealing
        /// Checking and opening sealed values.
        case opening
        /// One KMS `Encrypt` call per value (lambda mode).
        case encrypting
        /// One KMS `Decrypt` call per value (lambda mode).
        case decrypting
    }

    /// `done` of `total` values are through `step`.
    case working(Step, done: Int, total: Int)
    /// The operation ended, successfully or not.
    case finished

    /// Receives reports; called on whatever task does the work, so it must return quickly.
    package typealias Handler = @Sendable (SealingProgress) -> Void

    /// Values between two reports in a loop: a report per value would cost more than the work.
    static let interval = 512
}
