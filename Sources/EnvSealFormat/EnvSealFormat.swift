/// EnvSealFormat defines the bytes and text that envseal's parts share.
///
/// - ``EncryptionContext``: the canonical, unambiguous encoding of an encryption context, used
///   as associated data wherever a context is bound.
/// - ``CiphertextBlob``: the key service's ciphertext (version, key id, key version, nonce,
///   XChaCha20-Poly1305 output).
/// - ``SealedValue`` and ``SealedFileHeader``: a sealed dotenv file's values and its header
///   variable, with the MAC that binds them together.
/// - ``DotenvFile``: a dotenv parser and writer that round-trips byte for byte.
///
/// The exact layouts are specified in `docs/FORMAT.md`, with test vectors. This module does no
/// I/O and no networking, and depends on nothing but SodiumKit and Foundation.
enum EnvSealFormatDocumentation {}
