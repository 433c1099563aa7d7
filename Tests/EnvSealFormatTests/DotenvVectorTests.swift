import EnvSealFormat
import Foundation
import Testing

/// Runs `Vectors/dotenv.json`, the shared cases of the dotenv grammar in `docs/DOTENV.md`.
@Suite("Dotenv test vectors")
struct DotenvVectorTests {
    @Test("The vector file has at least 30 uniquely named cases of both outcomes")
    func vectorFileShape() throws {
        let vectors = try loadVectors()
        #expect(vectors.count >= 30)
        #expect(Set(vectors.map(\.name)).count == vectors.count, "vector names must be unique")
        #expect(vectors.contains { $0.expect == .success })
        #expect(vectors.contains { $0.expect == .error })
        for vector in vectors {
            #expect((vector.input == nil) != (vector.inputBase64 == nil), "\(vector.name): exactly one input field")
            switch vector.expect {
            case .success: #expect(vector.entries != nil, "\(vector.name): success needs entries")
            case .error: #expect(vector.error != nil, "\(vector.name): error needs error")
            }
        }
    }

    @Test("Vector", arguments: try loadVectors())
    func vector(_ vector: DotenvVector) throws {
        let bytes = try #require(vector.bytes, "\(vector.name): unreadable input")
        let result: Result<DotenvFile, DotenvError> = Result { () throws(DotenvError) in try DotenvFile.parse(bytes) }
        switch (vector.expect, result) {
        case (.success, .success(let file)):
            let entries = vector.entries ?? []
            let assignments = file.assignments
            #expect(assignments.count == entries.count, "\(vector.name): number of assignments")
            for (index, (assignment, entry)) in zip(assignments, entries).enumerated() {
                #expect(assignment.name == entry.name, "\(vector.name): name of assignment \(index)")
                #expect(
                    Array(assignment.value.utf8) == Array(entry.value.utf8),
                    """
                    \(vector.name): value of \(entry.name) is \(String(reflecting: assignment.value)), \
                    expected \(String(reflecting: entry.value))
                    """
                )
                #expect(assignment.isExported == entry.export, "\(vector.name): export flag of \(entry.name)")
            }
            #expect(file.render() == bytes, "\(vector.name): render must give back the input bytes")
            if let text = vector.input {
                #expect(try DotenvFile.parse(text) == file, "\(vector.name): String and byte parsing differ")
            }
        case (.success, .failure(let error)):
            Issue.record("\(vector.name): expected success, got \(error)")
        case (.error, .success):
            Issue.record("\(vector.name): expected an error, parsing succeeded")
        case (.error, .failure(let error)):
            let expected = try #require(vector.error)
            #expect(error.kind.rawValue == expected.kind, "\(vector.name): error kind")
            #expect(error.line == expected.line, "\(vector.name): error line")
            #expect(error.column == expected.column, "\(vector.name): error column")
        }
    }
}

struct DotenvVector: Decodable, Sendable, CustomTestStringConvertible {
    enum Outcome: String, Decodable, Sendable {
        case success
        case error
    }

    struct Entry: Decodable, Sendable {
        var name: String
        var value: String
        var export: Bool
    }

    struct ExpectedError: Decodable, Sendable {
        var kind: String
        var line: Int
        var column: Int
    }

    var name: String
    var input: String?
    var inputBase64: String?
    var expect: Outcome
    var entries: [Entry]?
    var error: ExpectedError?

    enum CodingKeys: String, CodingKey {
        case name, input, expect, entries, error
        case inputBase64 = "input_base64"
    }

    var bytes: [UInt8]? {
        if let input { return Array(input.utf8) }
        return inputBase64.flatMap { Data(base64Encoded: $0) }.map(Array.init)
    }

    var testDescription: String { name }
}

private func loadVectors() throws -> [DotenvVector] {
    let url = try #require(Bundle.module.url(forResource: "dotenv", withExtension: "json", subdirectory: "Vectors"))
    return try JSONDecoder().decode([DotenvVector].self, from: Data(contentsOf: url))
}
