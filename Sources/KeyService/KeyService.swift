/// KeyService is envseal's KMS engine: it owns master keys, never lets their material out, and
/// does envelope encryption with AWS KMS's semantics for symmetric keys.
///
/// - ``KeyServiceEngine`` runs every operation (CreateKey … ListResourceTags) for a calling
///   ``Principal``, taking and returning the ``KMS`` wire shapes, authorizing with key policies
///   and grants before any material is unwrapped, and auditing every call.
/// - ``KeyStore`` is where its state lives; ``InMemoryKeyStore`` serves tests, and the SQLite and
///   PostgreSQL stores live in their own modules.
/// - ``RootKeyProvider`` supplies the root key that wraps every key's material.
///
/// This module knows nothing of HTTP, SigV4 or the CLI, and must never depend on them.
enum KeyServiceDocumentation {}
