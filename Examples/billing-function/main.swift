// billing-function: an example serverless function that links the EnvSeal library.
//
// It reads one invoice event (JSON) from standard input, opens its sealed environment with one
// key-service call, installs the redacting log handler, "connects" to its database with the
// sealed password, and answers with JSON on standard output. Its logs go to standard error, and
// every secret in them (and its base64, URL and JSON forms) is replaced by `<redacted>`.
//
// Run it as a function platform would: with the sealed file's variables in its environment and
// the standard AWS variables pointing at a key service:
//
//   set -a; . ./.env.sealed; set +a
//   AWS_ENDPOINT_URL_KMS=http://127.0.0.1:8417 AWS_SHARED_CREDENTIALS_FILE=billing-fn.credentials \
//     AWS_LAMBDA_FUNCTION_NAME=billing-fn billing-function <<< '{"invoice":"INV-1","amount":42}'
import EnvSeal
import Foundation
import Logging

struct Invoice: Decodable {
    let invoice: String
    let amount: Int
}

struct Answer: Encodable {
    let status: String
    let invoice: String
    let charged: Int
}

/// The function's entry point: one event in, one answer out.
func handle(_ event: Invoice, environment: SealedEnvironment, logger: Logger) throws -> Answer {
    guard let password = environment["DB_PASSWORD"] else {
        throw ExampleError(message: "DB_PASSWORD is not sealed in this function's environment")
    }
    let user = environment.plain["DB_USER"] ?? "billing"
    let host = environment.plain["DB_HOST"] ?? "localhost"
    // A connection string with the password in it: exactly what ends up in logs by accident.
    let connection = "postgres://\(user):\(password.revealed())@\(host)/billing"
    logger.info("connecting to the database", metadata: ["url": "\(connection)"])
    logger.info("charged invoice", metadata: ["invoice": "\(event.invoice)", "amount": "\(event.amount)", "password": "\(password)"])
    return Answer(status: "ok", invoice: event.invoice, charged: event.amount)
}

struct ExampleError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("billing-function: \(message)\n".utf8))
    exit(1)
}

let environment: SealedEnvironment
do {
    environment = try await SealedEnvironment.load()
} catch {
    fail("cannot open the sealed environment: \(error)")
}
let patterns: RedactionPatterns
do {
    patterns = try environment.redactionPatterns()
    RedactingLogHandler.bootstrap(patterns: patterns)
} catch {
    fail("cannot set up redaction: \(error)")
}
let logger = Logger(label: "billing-function")
for name in patterns.skippedNames {
    logger.warning("secret too short to redact safely; it is not scrubbed from logs", metadata: ["variable": "\(name)"])
}
let input = FileHandle.standardInput.readDataToEndOfFile()
do {
    let event = try JSONDecoder().decode(Invoice.self, from: input)
    let answer = try handle(event, environment: environment, logger: logger)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try encoder.encode(answer), as: UTF8.self))
} catch {
    logger.error("invocation failed", metadata: ["error": "\(error)"])
    exit(1)
}
