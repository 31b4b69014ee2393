/// The character tokenizer of pare-dlm files: token id i is the text `vocab[i]`.
///
/// Multi-character entries (such as "<eos>" and "<mask>") are special tokens: they are
/// never produced by encoding text, only by the model.
public struct CharTokenizer: Sendable {
    public let vocab: [String]
    private let ids: [Character: Int]

    public init(vocab: [String]) {
        self.vocab = vocab
        var ids: [Character: Int] = [:]
        for (i, s) in vocab.enumerated() where s.count == 1 {
            ids[s.first!] = ids[s.first!] ?? i
        }
        self.ids = ids
    }

    /// The vocabulary of the reference tasks: specials, digits, letters, punctuation.
    public static let referenceVocab: [String] =
        ["<eos>", "<mask>"] + (0...9).map(String.init) + "abcdefghijklmnopqrstuvwxyz".map(String.init)
        + ["+", "-", "=", ":", ",", "?", ";"]

    public func encode(_ text: String) throws -> [Int] {
        try text.map { ch in
            guard let id = ids[ch] else { throw TokenizerError.unknownCharacter(ch, text: text) }
            return id
        }
    }

    /// Concatenates token texts; ids outside the vocabulary show as "<?>".
    public func decode(_ tokens: [Int]) -> String {
        tokens.map { (0..<vocab.count).contains($0) ? vocab[$0] : "<?>" }.joined()
    }

    /// Text before the first `eos` (the accuracy convention of DESIGN.md).
    public func decodeAnswer(_ tokens: [Int], eos: Int) -> String {
        decode(Array(tokens.prefix { $0 != eos }))
    }
}

public enum TokenizerError: Error, CustomStringConvertible {
    case unknownCharacter(Character, text: String)
    public var description: String {
        switch self {
        case .unknownCharacter(let c, let t):
            return "character \"\(c)\" in \"\(t)\" is not in the model's vocabulary"
        }
    }
}
