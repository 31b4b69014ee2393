/// Stands in for stored tokenizer files Pare cannot run (an unsupported tokenizer.json feature,
/// say; `pare convert` stores them anyway with a warning): the model still runs on token ids
/// (`inspect`, `generate --prompt-ids`, `export`), and encoding text is an error that
/// gives the reason.
public struct UnusableTokenizer: Tokenizer {
    public let vocabularySize: Int
    /// Why the stored tokenizer cannot be used, as the loader reported it.
    public let reason: String

    public func encode(_ text: String) throws -> [Int] {
        throw TokenizerError.unsupported("\(reason); the model runs on token ids only")
    }

    /// No token has a text: every id shows as "<?>".
    public func decode(_ ids: [Int]) -> String { String(repeating: "<?>", count: ids.count) }
}
