import Foundation

/// Building a `BPETokenizer` from the Hugging Face files (docs/format.md, "BPE tokenizers"):
/// `tokenizer.json` when present (as the `transformers` fast tokenizers do), else Qwen2's
/// `vocab.json` + `merges.txt` + `added_tokens.json`. Anything the files ask for that Pare does
/// not implement is an error naming it, never a silently different encoding.
extension BPETokenizer {
    public init(files: HFTokenizerFiles, vocabularySize: Int) throws {
        if let json = files.files["tokenizer.json"] {
            try self.init(tokenizerJSON: json, vocabularySize: vocabularySize)
        } else {
            try self.init(vocabJSON: files.files["vocab.json"] ?? [], merges: files.files["merges.txt"] ?? [],
                          addedTokensJSON: files.files["added_tokens.json"], configJSON: files.files["tokenizer_config.json"],
                          vocabularySize: vocabularySize)
        }
    }

    // MARK: tokenizer.json

    init(tokenizerJSON bytes: [UInt8], vocabularySize: Int) throws {
        let file = "tokenizer.json"
        let root = try JSONFields(parsing: bytes, file: file)
        for key in ["truncation", "padding"] where !root.isNull(key) {
            throw TokenizerError.unsupported("\(file): \(key) is set; Pare encodes without truncation or padding")
        }

        let model = try root.object("model")
        let type = try model.optionalString("type") ?? "BPE"
        guard type == "BPE" else { throw TokenizerError.unsupported("\(file): model type \"\(type)\" is not supported (only BPE)") }
        if let dropout = try model.optionalDouble("dropout"), dropout != 0 {
            throw TokenizerError.unsupported("\(file): BPE dropout \(dropout) is not supported")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let value = try model.optionalString(key), !value.isEmpty {
                throw TokenizerError.unsupported("\(file): BPE \(key) \"\(value)\" is not supported")
            }
        }
        if try model.optionalBool("byte_fallback") == true {
            throw TokenizerError.unsupported("\(file): BPE byte_fallback is not supported")
        }
        let bpe = try BPEModel(vocab: try model.intMap("vocab"), merges: try Self.merges(model.array("merges"), file: file),
                               unknown: try model.optionalString("unk_token"),
                               fuseUnknown: try model.optionalBool("fuse_unk") ?? false,
                               ignoreMerges: try model.optionalBool("ignore_merges") ?? false)

        let nfc = try Self.normalizer(root.optionalObject("normalizer"), file: file)
        let pattern = try Self.preTokenizer(root.optionalObject("pre_tokenizer"), file: file)
        if let decoder = try root.optionalObject("decoder"), try decoder.string("type") != "ByteLevel" {
            throw TokenizerError.unsupported("\(file): decoder \"\(try decoder.string("type"))\" is not supported (only ByteLevel)")
        }
        var added: [AddedToken] = []
        for (i, entry) in try root.optionalArray("added_tokens").enumerated() {
            let token = try JSONFields(entry, file: file, path: "added_tokens[\(i)]")
            let content = try token.string("content")
            for flag in ["single_word", "lstrip", "rstrip"] where try token.optionalBool(flag) == true {
                throw TokenizerError.unsupported("\(file): added token \"\(content.escapedForOneLine)\" sets \(flag), which Pare does not support")
            }
            let special = try token.optionalBool("special") ?? false
            added.append(AddedToken(content: content, id: try token.int("id"),
                                    normalized: try token.optionalBool("normalized") ?? !special))
        }
        let (prefix, suffix) = try Self.postProcessor(root.optionalObject("post_processor"), file: file)
        try self.init(vocabularySize: vocabularySize, model: bpe, pattern: pattern, nfc: nfc, addedTokens: added,
                      templatePrefix: prefix, templateSuffix: suffix)
    }

    /// Merges as "a b" strings (the classic form) or as ["a", "b"] pairs (tokenizers 0.20+).
    private static func merges(_ entries: [Any], file: String) throws -> [(String, String)] {
        try entries.enumerated().map { i, entry in
            if let text = entry as? String {
                let parts = text.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw TokenizerError.malformed("\(file): merge \(i + 1) \"\(text.escapedForOneLine)\" is not two tokens") }
                return (String(parts[0]), String(parts[1]))
            }
            if let pair = entry as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String { return (a, b) }
            throw TokenizerError.malformed("\(file): merge \(i + 1) is neither \"a b\" nor [\"a\", \"b\"]")
        }
    }

    /// True for NFC; nil normalizer (or an empty sequence) is none.
    private static func normalizer(_ spec: JSONFields?, file: String) throws -> Bool {
        guard let spec else { return false }
        switch try spec.string("type") {
        case "NFC": return true
        case "Sequence":
            let parts = try spec.array("normalizers").enumerated().map {
                try JSONFields($1, file: file, path: "normalizer.normalizers[\($0)]")
            }
            guard parts.count <= 1 else { throw TokenizerError.unsupported("\(file): a sequence of \(parts.count) normalizers is not supported") }
            return try parts.first.map { try Self.normalizer($0, file: file) } ?? false
        case let other: throw TokenizerError.unsupported("\(file): normalizer \"\(other)\" is not supported (only NFC)")
        }
    }

    /// The split a byte-level pre-tokenizer makes: ByteLevel alone (its GPT-2 regex when
    /// `use_regex`), or Sequence[Split(known regex, Isolated), ByteLevel(use_regex: false)]
    /// (a sequence of one step is that step).
    private static func preTokenizer(_ pre: JSONFields?, file: String) throws -> PreTokenizerPattern? {
        guard let pre else { throw TokenizerError.unsupported("\(file): no pre_tokenizer; only byte-level BPE is supported") }
        func byteLevel(_ fields: JSONFields) throws -> Bool {
            guard try fields.string("type") == "ByteLevel" else {
                throw TokenizerError.unsupported("\(file): pre-tokenizer \"\(try fields.string("type"))\" is not supported")
            }
            if try fields.optionalBool("add_prefix_space") == true {
                throw TokenizerError.unsupported("\(file): ByteLevel add_prefix_space is not supported")
            }
            return try fields.optionalBool("use_regex") ?? true
        }
        if try pre.string("type") == "ByteLevel" { return try byteLevel(pre) ? .gpt2 : nil }
        guard try pre.string("type") == "Sequence" else {
            throw TokenizerError.unsupported("\(file): pre-tokenizer \"\(try pre.string("type"))\" is not supported")
        }
        let steps = try pre.array("pretokenizers").enumerated().map {
            try JSONFields($1, file: file, path: "pre_tokenizer.pretokenizers[\($0)]")
        }
        if steps.count == 1 { return try preTokenizer(steps[0], file: file) }
        guard steps.count == 2, try steps[0].string("type") == "Split" else {
            throw TokenizerError.unsupported("\(file): only the pre-tokenizer sequence [Split, ByteLevel] is supported")
        }
        let split = steps[0]
        let regex = try split.object("pattern").optionalString("Regex")
        guard let regex, let pattern = PreTokenizerPattern.allCases.first(where: { $0.regex == regex }) else {
            throw TokenizerError.unsupported("\(file): Split pattern \(regex.map { "\"\($0.escapedForOneLine)\"" } ?? "(a plain string)") is not one Pare knows (Llama-3, Qwen2 or GPT-2)")
        }
        guard try split.string("behavior") == "Isolated", try split.optionalBool("invert") != true else {
            throw TokenizerError.unsupported("\(file): Split behavior must be Isolated, not inverted")
        }
        guard try !byteLevel(steps[1]) else {
            throw TokenizerError.unsupported("\(file): ByteLevel after a Split must not split again (use_regex false)")
        }
        return pattern
    }

    /// The ids a TemplateProcessing post-processor puts around a single sequence.
    private static func postProcessor(_ post: JSONFields?, file: String) throws -> (prefix: [Int], suffix: [Int]) {
        guard let post else { return ([], []) }
        switch try post.string("type") {
        case "ByteLevel": return ([], [])  // only moves offsets
        case "Sequence":
            var result: (prefix: [Int], suffix: [Int]) = ([], [])
            for (i, step) in try post.array("processors").enumerated() {
                let (p, s) = try postProcessor(JSONFields(step, file: file, path: "post_processor.processors[\(i)]"), file: file)
                result.prefix += p
                result.suffix = s + result.suffix
            }
            return result
        case "TemplateProcessing":
            let specials = try post.object("special_tokens")
            var prefix: [Int] = [], suffix: [Int] = [], seenSequence = false
            for (i, item) in try post.array("single").enumerated() {
                let fields = try JSONFields(item, file: file, path: "post_processor.single[\(i)]")
                if fields.has("Sequence") { seenSequence = true; continue }
                let name = try fields.object("SpecialToken").string("id")
                let ids = try specials.object(name).intArray("ids")
                if seenSequence { suffix += ids } else { prefix += ids }
            }
            return (prefix, suffix)
        case let other: throw TokenizerError.unsupported("\(file): post-processor \"\(other)\" is not supported")
        }
    }

    // MARK: vocab.json + merges.txt

    /// Qwen2's layout (Dream): NFC and the Qwen2 split, or GPT-2's when tokenizer_config.json
    /// names a GPT-2 tokenizer. Added tokens come from added_tokens.json, with the flags
    /// tokenizer_config.json's added_tokens_decoder gives them (special when it gives none).
    init(vocabJSON: [UInt8], merges mergesText: [UInt8], addedTokensJSON: [UInt8]?, configJSON: [UInt8]?,
         vocabularySize: Int) throws {
        let vocab = try JSONFields(parsing: vocabJSON, file: "vocab.json").intMapAtRoot()
        var merges: [(String, String)] = []
        for (i, line) in String(decoding: mergesText, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = line.hasSuffix("\r") ? line.dropLast() : line
            if text.isEmpty || (i == 0 && text.hasPrefix("#version")) { continue }
            let parts = text.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw TokenizerError.malformed("merges.txt line \(i + 1) \"\(String(text).escapedForOneLine)\" is not two tokens") }
            merges.append((String(parts[0]), String(parts[1])))
        }
        let config = try configJSON.map { try JSONFields(parsing: $0, file: "tokenizer_config.json") }
        var pattern = PreTokenizerPattern.qwen2, nfc = true
        if let name = try config?.optionalString("tokenizer_class") {
            if name.hasPrefix("GPT2") { pattern = .gpt2; nfc = false }
            else if !(name.hasPrefix("Qwen2") || name.hasPrefix("Dream")) {
                throw TokenizerError.unsupported("tokenizer_config.json: tokenizer_class \"\(name)\" with vocab.json + merges.txt is not supported (Qwen2, Dream or GPT-2)")
            }
        }
        // Flags by content, from tokenizer_config.json.
        var flags: [String: (id: Int, normalized: Bool)] = [:]
        if let decoderTable = try config?.optionalObject("added_tokens_decoder") {
            for key in decoderTable.keys {
                guard let id = Int(key) else { throw TokenizerError.malformed("tokenizer_config.json: added_tokens_decoder key \"\(key)\" is not an id") }
                let token = try decoderTable.object(key)
                for flag in ["single_word", "lstrip", "rstrip"] where try token.optionalBool(flag) == true {
                    throw TokenizerError.unsupported("tokenizer_config.json: added token \"\(try token.string("content").escapedForOneLine)\" sets \(flag), which Pare does not support")
                }
                let special = try token.optionalBool("special") ?? true
                flags[try token.string("content")] = (id, try token.optionalBool("normalized") ?? !special)
            }
        }
        var tokens: [String: Int] = flags.mapValues(\.id)
        if let addedTokensJSON {
            for (content, id) in try JSONFields(parsing: addedTokensJSON, file: "added_tokens.json").intMapAtRoot() {
                if let known = tokens[content], known != id {
                    throw TokenizerError.malformed("added_tokens.json gives \"\(content.escapedForOneLine)\" id \(id), tokenizer_config.json \(known)")
                }
                tokens[content] = id
            }
        }
        let added = tokens.sorted { $0.value < $1.value }.map { content, id in
            AddedToken(content: content, id: id, normalized: flags[content]?.normalized ?? false)
        }
        let bpe = try BPEModel(vocab: vocab, merges: merges, unknown: nil, fuseUnknown: false, ignoreMerges: false)
        try self.init(vocabularySize: vocabularySize, model: bpe, pattern: pattern, nfc: nfc, addedTokens: added)
    }
}

/// Typed access to one JSON object of a tokenizer file, each failure an error naming the file
/// and the field.
struct JSONFields {
    let fields: [String: Any]
    let file: String
    let path: String

    init(parsing bytes: [UInt8], file: String) throws {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw TokenizerError.malformed("\(file) is not valid JSON")
        }
        try self.init(root, file: file, path: "")
    }

    init(_ value: Any, file: String, path: String) throws {
        guard let fields = value as? [String: Any] else {
            throw TokenizerError.malformed("\(file): \(path.isEmpty ? "the file" : path) is not a JSON object")
        }
        self.fields = fields
        self.file = file
        self.path = path
    }

    var keys: [String] { fields.keys.sorted() }
    func has(_ key: String) -> Bool { fields[key] != nil }
    func isNull(_ key: String) -> Bool { fields[key] == nil || fields[key] is NSNull }

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    private func bad(_ key: String, _ expected: String) -> TokenizerError {
        .malformed("\(file): \(name(key)) is \(isNull(key) ? "missing" : "not \(expected)")")
    }

    func object(_ key: String) throws -> JSONFields {
        guard let value = fields[key], value is [String: Any] else { throw bad(key, "an object") }
        return try JSONFields(value, file: file, path: name(key))
    }
    func optionalObject(_ key: String) throws -> JSONFields? { isNull(key) ? nil : try object(key) }

    func array(_ key: String) throws -> [Any] {
        guard let value = fields[key] as? [Any] else { throw bad(key, "an array") }
        return value
    }
    func optionalArray(_ key: String) throws -> [Any] { isNull(key) ? [] : try array(key) }

    func string(_ key: String) throws -> String {
        guard let value = fields[key] as? String else { throw bad(key, "a string") }
        return value
    }
    func optionalString(_ key: String) throws -> String? { isNull(key) ? nil : try string(key) }

    /// JSON booleans and numbers both arrive as NSNumber; a boolean is checked by its type.
    func optionalBool(_ key: String) throws -> Bool? {
        guard !isNull(key) else { return nil }
        guard let number = fields[key] as? NSNumber, Self.isBoolean(number) else { throw bad(key, "true or false") }
        return number.boolValue
    }

    func optionalDouble(_ key: String) throws -> Double? {
        guard !isNull(key) else { return nil }
        guard let number = fields[key] as? NSNumber, !Self.isBoolean(number) else { throw bad(key, "a number") }
        return number.doubleValue
    }

    func int(_ key: String) throws -> Int {
        guard let value = Self.id(fields[key]) else { throw bad(key, "a token id") }
        return value
    }

    func intArray(_ key: String) throws -> [Int] {
        let values = try array(key)
        return try values.map { guard let id = Self.id($0) else { throw bad(key, "an array of token ids") }; return id }
    }

    /// An object of token text to id (a vocabulary).
    func intMap(_ key: String) throws -> [String: Int] {
        try object(key).intMapAtRoot()
    }

    func intMapAtRoot() throws -> [String: Int] {
        var map: [String: Int] = [:]
        map.reserveCapacity(fields.count)
        for (text, value) in fields {
            guard let id = Self.id(value) else {
                throw TokenizerError.malformed("\(file): \(path.isEmpty ? "entry" : path + " entry") \"\(text.escapedForOneLine)\" is not a token id")
            }
            map[text] = id
        }
        return map
    }

    /// A non-negative integer below 2^31 (ids index embedding rows).
    static func id(_ value: Any?) -> Int? {
        guard let number = value as? NSNumber, !isBoolean(number) else { return nil }
        let double = number.doubleValue
        guard double >= 0, double < Double(Int32.max), double == double.rounded() else { return nil }
        return Int(double)
    }

    static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"  // how JSONSerialization marks true and false
    }
}
