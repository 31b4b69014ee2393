/// The regular expressions byte-level BPE tokenizers split text with before merging, written out
/// as hand-made scanners over Unicode scalars. Each scanner gives exactly the matches of its
/// regex as the Hugging Face `tokenizers` library runs it (Oniguruma, leftmost match, the
/// alternatives tried in order, greedy quantifiers that backtrack), without a regex engine.
///
/// Character classes, as Oniguruma defines them: `\p{L}` is general category L*, `\p{N}` is N*,
/// `\s` is the Unicode White_Space property.
public enum PreTokenizerPattern: String, CaseIterable, Sendable {
    /// Llama-3 style (LLaDA-8B):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3
    /// Qwen2 (Dream): the Llama-3 pattern with single digits.
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case qwen2
    /// GPT-2 (the ByteLevel pre-tokenizer's own split when `use_regex` is true):
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2

    /// The regex text as tokenizer.json spells it (a Split pre-tokenizer's `pattern.Regex`).
    public var regex: String {
        switch self {
        case .llama3:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .qwen2:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .gpt2:
            return #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
        }
    }

    /// Splits `text` into consecutive pieces: the regex's matches and, between them, whatever
    /// they leave out (these patterns leave nothing out, but a split keeps every scalar).
    public func split(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var start = 0, gap = 0
        while start < text.count {
            if let end = match(text, at: start) {
                if gap < start { pieces.append(gap..<start) }
                pieces.append(start..<end)
                start = end
                gap = end
            } else {
                start += 1
            }
        }
        if gap < text.count { pieces.append(gap..<text.count) }
        return pieces
    }

    /// End of the match starting at `i`, or nil when no alternative matches there.
    func match(_ s: [Unicode.Scalar], at i: Int) -> Int? {
        let n = s.count
        func isLetter(_ k: Int) -> Bool { k < n && Self.isLetter(s[k]) }
        func isNumber(_ k: Int) -> Bool { k < n && Self.isNumber(s[k]) }
        func isSpace(_ k: Int) -> Bool { k < n && s[k].properties.isWhitespace }
        func isNewline(_ k: Int) -> Bool { k < n && (s[k] == "\r" || s[k] == "\n") }
        /// `[^\s\p{L}\p{N}]`
        func isOther(_ k: Int) -> Bool { k < n && !isSpace(k) && !isLetter(k) && !isNumber(k) }
        func run(from k: Int, while test: (Int) -> Bool) -> Int {
            var e = k
            while e < n && test(e) { e += 1 }
            return e
        }

        // Contractions: 's 't 're 've 'm 'll 'd (case-insensitive except for GPT-2).
        if s[i] == "'" {
            let folded: (Int) -> String? = { k in
                guard k < n else { return nil }
                return self == .gpt2 ? String(s[k]) : Self.caseFolded(s[k])
            }
            if let one = folded(i + 1), ["s", "t", "m", "d"].contains(one) { return i + 2 }
            if let one = folded(i + 1), let two = folded(i + 2), ["re", "ve", "ll"].contains(one + two) { return i + 3 }
        }

        switch self {
        case .llama3, .qwen2:
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !isNewline(i) && !isLetter(i) && !isNumber(i) && isLetter(i + 1) { return run(from: i + 1, while: isLetter) }
            if isLetter(i) { return run(from: i, while: isLetter) }
            // \p{N}{1,3} or \p{N}
            if isNumber(i) {
                let limit = self == .llama3 ? 3 : 1
                var e = i
                while e < n && e - i < limit && isNumber(e) { e += 1 }
                return e
            }
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            let first = s[i] == " " && isOther(i + 1) ? i + 1 : i
            if isOther(first) { return run(from: run(from: first, while: isOther), while: isNewline) }
            // `\s*[\r\n]+`: the whitespace run up to and including its last line break.
            let spaceEnd = run(from: i, while: isSpace)
            if let lastBreak = (i..<spaceEnd).last(where: isNewline) { return lastBreak + 1 }
        case .gpt2:
            // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
            let first = s[i] == " " ? i + 1 : i
            for test in [isLetter, isNumber, isOther] as [(Int) -> Bool] {
                if test(first) { return run(from: first, while: test) }
                if first != i && test(i) { return run(from: i, while: test) }
            }
        }
        // `\s+(?!\S)`: a whitespace run that is not followed by a non-space, else all but its
        // last scalar; then plain `\s+`.
        let spaceEnd = run(from: i, while: isSpace)
        guard spaceEnd > i else { return nil }
        if spaceEnd == n || spaceEnd - i == 1 { return spaceEnd }
        return spaceEnd - 1
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// The scalar's simple case folding as a string (so "S" and "ſ" compare as "s").
    static func caseFolded(_ c: Unicode.Scalar) -> String {
        let folded = c.properties.lowercaseMapping
        return c == "\u{17F}" ? "s" : folded
    }
}
