/// A token the tokenizer matches in the text as a whole before any splitting or merging: the
/// special tokens (`<|eot_id|>`, `<|im_start|>`, `<|mdm_mask|>`, ...) and any other added token.
struct AddedToken: Sendable {
    let content: String
    let id: Int
    /// Matched in the normalized text (else in the text as given). `tokenizers` defaults it to
    /// true for ordinary added tokens and false for special ones.
    let normalized: Bool
}

/// Finds added tokens in text the way `tokenizers` does: scanning left to right, at each
/// position the longest token that starts there (leftmost-longest), matches never overlapping.
struct AddedTokenMatcher: Sendable {
    enum Segment: Equatable {
        case token(Int)
        case text(Range<Int>)
    }

    /// Tokens by first scalar, longest first.
    private let byFirst: [Unicode.Scalar: [(scalars: [Unicode.Scalar], id: Int)]]

    init(_ tokens: [AddedToken]) {
        var table: [Unicode.Scalar: [(scalars: [Unicode.Scalar], id: Int)]] = [:]
        for token in tokens {
            let scalars = Array(token.content.unicodeScalars)
            guard let first = scalars.first else { continue }
            table[first, default: []].append((scalars, token.id))
        }
        byFirst = table.mapValues { $0.sorted { $0.scalars.count > $1.scalars.count } }
    }

    var isEmpty: Bool { byFirst.isEmpty }

    /// `text` cut into added tokens and the text between them (empty stretches left out).
    func split(_ text: [Unicode.Scalar]) -> [Segment] {
        guard !byFirst.isEmpty else { return text.isEmpty ? [] : [.text(0..<text.count)] }
        var segments: [Segment] = []
        var plain = 0, i = 0
        scan: while i < text.count {
            for candidate in byFirst[text[i]] ?? [] where Self.matches(candidate.scalars, text, at: i) {
                if plain < i { segments.append(.text(plain..<i)) }
                segments.append(.token(candidate.id))
                i += candidate.scalars.count
                plain = i
                continue scan
            }
            i += 1
        }
        if plain < text.count { segments.append(.text(plain..<text.count)) }
        return segments
    }

    private static func matches(_ token: [Unicode.Scalar], _ text: [Unicode.Scalar], at i: Int) -> Bool {
        guard i + token.count <= text.count else { return false }
        for k in 0..<token.count where text[i + k] != token[k] { return false }
        return true
    }
}
