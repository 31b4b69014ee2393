/// The chat formats of the instruct models, written out for one user turn followed by the
/// assistant's header, so the model's answer comes next (docs/format.md, "Chat formats"). Each is
/// what the model's own `chat_template` renders with `add_generation_prompt=True`.
public enum ChatFormat: String, CaseIterable, Sendable {
    /// LLaDA-8B-Instruct: Llama-3 headers, the BOS `<|startoftext|>` first, the message trimmed
    /// (the template's Jinja `| trim`).
    case llada
    /// Dream-v0-Instruct-7B: Qwen2's ChatML with its default system prompt.
    case dream

    /// The special tokens the text holds, which the tokenizer must know as added tokens.
    public var specialTokens: [String] {
        switch self {
        case .llada: return ["<|startoftext|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
        case .dream: return ["<|im_start|>", "<|im_end|>"]
        }
    }

    /// The token that ends the assistant's turn: an answer ends there (or at the model's eos).
    public var endOfTurn: String {
        switch self {
        case .llada: return "<|eot_id|>"
        case .dream: return "<|im_end|>"
        }
    }

    /// The prompt text for the user message `user`.
    public func render(user: String) -> String {
        switch self {
        case .llada:
            return "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\n" + Self.trimmed(user)
                + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        case .dream:
            return "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n" + user
                + "<|im_end|>\n<|im_start|>assistant\n"
        }
    }

    /// The ids of the prompt for `user`, encoded as `apply_chat_template(..., tokenize=True)`
    /// does: the rendered text without the post-processor's tokens (the text has its own BOS).
    public func encode(user: String, with tokenizer: any Tokenizer) throws -> [Int] {
        try carrier(tokenizer).encode(render(user: user), addingSpecialTokens: false)
    }

    /// `tokenizer` as the BPE tokenizer that can carry this format, or why it cannot.
    func carrier(_ tokenizer: any Tokenizer) throws -> BPETokenizer {
        guard let bpe = tokenizer as? BPETokenizer else {
            throw TokenizerError.unsupported("chat formats need a BPE tokenizer; this model's tokenizer is a character vocabulary")
        }
        if let missing = specialTokens.first(where: { bpe.addedTokenID($0) == nil }) {
            throw TokenizerError.unsupported("the \(rawValue) chat format needs the special token \(missing), which this model's tokenizer lacks")
        }
        return bpe
    }

    /// The answer part of generated `tokens`: up to the end of the turn or the model's `eos`.
    public func answer(_ tokens: [Int], tokenizer: any Tokenizer, eos: Int) -> String {
        let end = (tokenizer as? BPETokenizer)?.addedTokenID(endOfTurn)
        return tokenizer.decodeAnswer(Array(tokens.prefix { $0 != end }), eos: eos)
    }

    /// The chat format of a model's architecture (`/config` `architecture`), or an error saying
    /// there is none.
    public static func of(_ config: ModelConfig) throws -> ChatFormat {
        guard let format = ChatFormat(rawValue: config.architecture) else {
            throw TokenizerError.unsupported("no chat format for architecture \"\(config.architecture)\" (known: \(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return format
    }

    /// Python's `str.strip()`, which Jinja's `trim` is: whitespace (the Unicode White_Space
    /// property, plus the separators U+001C-U+001F that Python also counts) off both ends.
    static func trimmed(_ text: String) -> String {
        func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace || (0x1C...0x1F).contains(c.value) }
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[first...last])
        return String(view)
    }
}

/// A model's tokenizer speaking in chat turns (`--chat`): a text is encoded as one user turn of
/// `format`, and an answer ends at the end of the assistant's turn or at `eos`.
public struct ChatTokenizer: Tokenizer {
    public let format: ChatFormat
    public let base: any Tokenizer

    /// Fails when `base` cannot carry the format (a char vocabulary, missing special tokens).
    public init(format: ChatFormat, base: any Tokenizer) throws {
        _ = try format.carrier(base)
        self.format = format
        self.base = base
    }

    public var vocabularySize: Int { base.vocabularySize }
    public func encode(_ text: String) throws -> [Int] { try format.encode(user: text, with: base) }
    public func decode(_ ids: [Int]) -> String { base.decode(ids) }
    public func piece(_ id: Int) -> String { base.piece(id) }
    public func decodeAnswer(_ tokens: [Int], eos: Int) -> String { format.answer(tokens, tokenizer: base, eos: eos) }
}
