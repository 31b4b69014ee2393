import Foundation

/// The `/provenance` `history` attribute: a JSON array with one object per operation.
///
/// `Checkpoint.provenance` keeps each entry as its own JSON text. Entries are joined and split
/// textually (after validating with JSONSerialization) so they round-trip byte for byte: parsing
/// and re-serializing would reorder keys and reformat numbers.
enum ProvenanceHistory {
    struct Problem: Error { let reason: String }

    /// The attribute text for `entries`; each must be a JSON object.
    static func join(_ entries: [String]) throws -> String {
        let trimmed = entries.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        for (index, entry) in trimmed.enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(entry.utf8)), object is [String: Any] else {
                throw Problem(reason: "entry \(index) is not a JSON object: \(entry.prefix(60))")
            }
        }
        return "[" + trimmed.joined(separator: ",") + "]"
    }

    /// The entries of a history attribute text.
    static func split(_ text: String) throws -> [String] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(text.utf8))
        } catch {
            throw Problem(reason: "not valid JSON (\(text.prefix(60)))")
        }
        guard let array = parsed as? [Any] else { throw Problem(reason: "not a JSON array") }
        if let index = array.firstIndex(where: { !($0 is [String: Any]) }) {
            throw Problem(reason: "entry \(index) is not a JSON object")
        }
        let entries = topLevelObjects(in: Array(text.utf8))
        guard entries.count == array.count else { throw Problem(reason: "cannot split into entries") }
        return entries
    }

    /// The texts of the objects directly inside a valid JSON array (byte scan: structural
    /// characters are ASCII, and string contents are skipped).
    private static func topLevelObjects(in bytes: [UInt8]) -> [String] {
        var objects: [String] = []
        var depth = 0
        var inString = false
        var escaped = false
        var start = 0
        for (index, byte) in bytes.enumerated() {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth == 2 { start = index }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if depth == 2 { objects.append(String(decoding: bytes[start...index], as: UTF8.self)) }
                depth -= 1
            default:
                break
            }
        }
        return objects
    }
}
