/// Text to token ids and back. The char tokenizer of the bundled model is one implementation;
/// byte-level BPE (for converted Hugging Face models) will be another.
public protocol Tokenizer: Sendable {
    /// Number of token ids (equal to the model's vocab_size).
    var vocabularySize: Int { get }
    func encode(_ text: String) throws -> [Int]
    /// The text of the ids; ids outside the vocabulary show as "<?>".
    func decode(_ ids: [Int]) -> String
}

extension Tokenizer {
    /// Text before the first `eos` (the accuracy convention of the reference tasks).
    public func decodeAnswer(_ tokens: [Int], eos: Int) -> String {
        decode(Array(tokens.prefix { $0 != eos }))
    }
}
