/// Text to token ids and back: the char tokenizer of the bundled model, or the byte-level BPE of
/// a converted Hugging Face model (`StoredTokenizer` says which a file holds).
public protocol Tokenizer: Sendable {
    /// Number of token ids (equal to the model's vocab_size).
    var vocabularySize: Int { get }
    func encode(_ text: String) throws -> [Int]
    /// The text of the ids; ids outside the vocabulary show as "<?>".
    func decode(_ ids: [Int]) -> String
    /// The text of one token, for display (`pare tokenize`).
    func piece(_ id: Int) -> String
    /// The answer part of generated tokens (by default the text before the first `eos`).
    func decodeAnswer(_ tokens: [Int], eos: Int) -> String
}

extension Tokenizer {
    public func piece(_ id: Int) -> String { decode([id]) }

    /// Text before the first `eos` (the accuracy convention of the reference tasks).
    public func decodeAnswer(_ tokens: [Int], eos: Int) -> String {
        decode(Array(tokens.prefix { $0 != eos }))
    }
}
