/// The tokenizer a pare-dlm file stores under `/tokenizer` (docs/format.md): a character
/// vocabulary (the bundled model, `pare init`), or a Hugging Face byte-level BPE kept as its
/// original files (converted LLaDA and Dream models). Every writer carries it through unchanged.
public enum StoredTokenizer: Equatable, Sendable {
    /// `kind = "char"`: row i of `/tokenizer/vocab` is the text of token id i.
    case char(vocab: [String])
    /// `kind = "bpe"`: the HF files under `/tokenizer/files/`, verbatim.
    case bpe(HFTokenizerFiles)

    /// The `/tokenizer` `kind` attribute.
    public var kind: String {
        switch self {
        case .char: return "char"
        case .bpe: return "bpe"
        }
    }

    /// Where a pare-dlm file stores the HF tokenizer file `name`.
    public static func filePath(_ name: String) -> String { "/tokenizer/files/" + name }

    /// The character vocabulary, or nil for a BPE tokenizer.
    public var charVocab: [String]? {
        if case .char(let vocab) = self { return vocab }
        return nil
    }

    /// The tokenizer that encodes and decodes text for a model of `vocabularySize` token ids.
    public func makeTokenizer(vocabularySize: Int) throws -> any Tokenizer {
        switch self {
        case .char(let vocab): return CharTokenizer(vocab: vocab)
        case .bpe(let files): return try BPETokenizer(files: files, vocabularySize: vocabularySize)
        }
    }
}
