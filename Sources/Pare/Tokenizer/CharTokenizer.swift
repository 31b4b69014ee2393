/// The character tokenizer of pare-dlm files: token id i is the text `vocab[i]`.
///
/// Multi-character entries (such as "<eos>" and "<mask>") are special tokens: they are
/// never produced by encoding text, only by the model.
public struct CharTokenizer: Tokenizer {
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

    public var vocabularySize: Int { vocab.count }

    /// The reference vocabulary padded with synthetic tokens `<t123>` up to `size` entries, for
    /// synthetic models whose vocabulary is larger than the reference tasks need.
    public static func syntheticVocab(size: Int) -> [String] {
        let base = referenceVocab
        return Array(base.prefix(size)) + (base.count..<max(base.count, size)).map { "<t\($0)>" }
    }
}

public enum TokenizerError: Error, CustomStringConvertible {
    case unknownCharacter(Character, text: String)
    /// A tokenizer feature this version cannot use, named.
    case unsupported(String)
    /// Tokenizer files that break their own format, with what is wrong.
    case malformed(String)
    public var description: String {
        switch self {
        case .unsupported(let what), .malformed(let what): return what
        case .unknownCharacter(let c, let t):
            return "character \"\(c)\" in \"\(t)\" is not in the model's vocabulary"
        }
    }
}
