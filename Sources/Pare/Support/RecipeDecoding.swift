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
