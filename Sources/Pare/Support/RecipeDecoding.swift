import Foundation

extension KeyedDecodingContainer {
    /// The value at `key`, or `fallback` when the file leaves the key out: YAML recipes name
    /// only what they change (training recipes, sweep recipes).
    func decode<T: Decodable>(_ key: Key, or fallback: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback
    }
}

/// Any key a YAML mapping holds, to find the ones a recipe does not know.
private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// A recipe key Pare does not know: almost always a typo, which would otherwise be ignored and
/// leave the default in place.
public struct UnknownRecipeKeys: Error, CustomStringConvertible {
    public let keys: [String]
    public let known: [String]
    public var description: String {
        "unknown key\(keys.count == 1 ? "" : "s") \(keys.map { "'\($0)'" }.joined(separator: ", ")) (known: \(known.joined(separator: ", ")))"
    }
}

extension Decoder {
    /// Throws `UnknownRecipeKeys` when the mapping being decoded holds a key outside `Keys`.
    func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_: Keys.Type) throws {
        let present = try container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        let known = Keys.allCases.map(\.stringValue)
        let unknown = present.filter { !known.contains($0) }.sorted()
        if !unknown.isEmpty { throw UnknownRecipeKeys(keys: unknown, known: known) }
    }
}

/// Reading a YAML recipe's text before it is decoded.
enum RecipeText {
    /// Recipes are a few dozen lines; anything near this is not one.
    static let maxBytes = 1 << 20

    /// The text of the recipe at `path`, or a one-line reason it cannot be one. YAML anchors and
    /// aliases are refused: ten nested aliases expand a few hundred bytes into billions of nodes
    /// (the "billion laughs"), and no recipe needs them.
    static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw RecipeTextError("cannot read the file") }
        guard data.count <= maxBytes else { throw RecipeTextError("\(data.count) bytes is too large for a recipe (at most \(maxBytes))") }
        let text = String(decoding: data, as: UTF8.self)
        for (n, line) in text.textLines.enumerated() {
            if let alias = line.firstAnchorOrAlias {
                throw RecipeTextError("line \(n + 1): YAML anchors and aliases (\(alias)) are not allowed in recipes")
            }
        }
        return text
    }
}

struct RecipeTextError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

private extension StringProtocol {
    /// The first `&anchor` or `*alias` token outside quotes and comments, if any.
    var firstAnchorOrAlias: String? {
        var quote: Character?
        var previous: Character = " "
        var index = startIndex
        while index < endIndex {
            let ch = self[index]
            if let q = quote {
                if ch == q { quote = nil }
            } else if ch == "\"" || ch == "'" {
                quote = ch
            } else if ch == "#" && (previous == " " || index == startIndex) {
                return nil
            } else if (ch == "&" || ch == "*") && " [{,:-".contains(previous) {
                let rest = self[index...].prefix { !$0.isWhitespace && !",]}".contains($0) }
                if rest.count > 1 { return String(rest) }
            }
            previous = ch
            index = self.index(after: index)
        }
        return nil
    }
}
