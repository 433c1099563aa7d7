/// SodiumKit is the only Swift code in envseal that calls libsodium.
///
/// Everything else in the project reaches the cryptography through the types here:
/// ``SecureBytes`` for key material and plaintext held in guarded memory, distinct key types
/// (``KeyMaterial``, ``DataKey``, ``SubKey``) whose lengths are checked once, ``Nonce``,
/// ``MAC``, and the operations ``XChaCha20Poly1305``, ``XChaCha20SIV``, ``KeyDerivation``,
/// ``BLAKE2b``, ``Argon2id`` and ``SecureRandom``. Every length is checked before a pointer
/// reaches C, and every failure is a typed ``SodiumError``.
///
/// This module must never depend on anything but libsodium and the Swift standard library.
import CSodium

/// libsodium's one-time initialisation.
///
/// Swift initialises a global `let` exactly once, atomically, on first use from any thread,
/// so every entry point touching ``Sodium/ready`` runs `sodium_init()` before its first C call.
enum Sodium {
    /// `true` once `sodium_init()` has succeeded; a failure means no safe randomness is
    /// available, and continuing would be worse than stopping.
    static let ready: Bool = {
        let result = sodium_init()
        precondition(result >= 0, "libsodium could not be initialised")
        return true
    }()

    /// Makes sure libsodium is initialised; cheap after the first call.
    @inline(__always)
    static func ensureInitialized() {
        _ = ready
    }
}
