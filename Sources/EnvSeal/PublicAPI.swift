// What a function author sees of the modules below `EnvSeal`, re-exported one declaration at a
// time so that `import EnvSeal` is enough to load a sealed environment and to write a
// ``DataKeyProvider`` of one's own. Everything else of those modules stays out of reach.

// Guarded memory, and the error when it cannot be had (`Secret.init`, a provider's plaintexts).
@_exported import class SodiumKit.SecureBytes
@_exported import struct SodiumKit.SodiumError

// A key service as the library talks to it, and what it hands back.
@_exported import protocol SealedDotenv.DataKeyProvider
@_exported import struct SealedDotenv.GeneratedDataKey
@_exported import struct SealedDotenv.UnwrappedDataKey
@_exported import struct SodiumKit.DataKey
@_exported import struct EnvSealFormat.EncryptionContext

// How a provider reports a refusal of the key service, or a failure to reach it, so that
// `SealedEnvironment.LoadError` classifies it.
@_exported import struct KMSWire.KMSError
@_exported import struct KMSWire.KMSErrorType
@_exported import struct KMSClient.KMSTransportError

// A dotenv file already read (`SealedEnvironment.Source.dotenv`).
@_exported import struct EnvSealFormat.DotenvFile
