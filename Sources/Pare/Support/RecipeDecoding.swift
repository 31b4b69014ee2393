extension KeyedDecodingContainer {
    /// The value at `key`, or `fallback` when the file leaves the key out: YAML recipes name
    /// only what they change (training recipes, sweep recipes).
    func decode<T: Decodable>(_ key: Key, or fallback: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback
    }
}
