import EnvSealFormat
import SealedDotenv

// Sealing is the CLI's work, not a function's, so it is not part of the library's API. The
// library's tests need it to make the sealed files a function is given, and reach it through
// `@_spi(Testing) import EnvSeal` rather than importing the modules below.

@_spi(Testing) public typealias SealedFile = SealedDotenv.SealedFile
@_spi(Testing) public typealias VariableSelection = SealedDotenv.VariableSelection
@_spi(Testing) public typealias SealedValue = EnvSealFormat.SealedValue
