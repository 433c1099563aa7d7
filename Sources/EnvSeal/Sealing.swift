import EnvSealFormat
import SealedDotenv

// Sealing is the CLI's work, not a function's, so it is not part of the library's API. The
// library's tests need it to make the sealed files a function is given; these names let them do
// so with `import EnvSeal` alone, and reach no further than this package.

package typealias SealedFile = SealedDotenv.SealedFile
package typealias VariableSelection = SealedDotenv.VariableSelection
package typealias SealedValue = EnvSealFormat.SealedValue
