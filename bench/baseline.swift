// A Swift program that does not link envseal: Foundation, the environment read, its resident
// memory printed as envseal-library-bench prints its own (bench/run.py's memory baseline).
import Foundation

let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
var fields: [String: Int] = [:]
for line in status.split(separator: "\n") {
    let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
    if parts.count >= 2, ["VmRSS:", "RssAnon:", "RssFile:"].contains(String(parts[0])), let kib = Int(parts[1]) {
        fields[String(parts[0].dropLast())] = kib
    }
}
let json = try JSONSerialization.data(withJSONObject: [
    "bench": "memory-baseline", "variables": ProcessInfo.processInfo.environment.count, "start": fields,
], options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
