import Foundation

/// A Hugging Face byte-level BPE tokenizer (LLaDA-8B, Dream-7B / Qwen2), giving the same ids as
/// the `tokenizers` library. Encoding runs the library's pipeline:
///
/// 1. added tokens with `normalized: false` (the special tokens) are cut out of the raw text;
/// 2. each stretch between them is normalized (NFC, when the tokenizer asks for it) and cut at
///    the added tokens with `normalized: true`;
/// 3. each remaining stretch is split by the pre-tokenizer's pattern (`PreTokenizerPattern`);
/// 4. each piece's UTF-8 bytes are merged by `BPEModel`;
/// 5. with `addingSpecialTokens`, the post-processor's template adds its tokens (a BOS, say).
///
/// Decoding maps ids back to token strings and the byte-level alphabet back to bytes.
/// Built from the stored HF files by `init(files:vocabularySize:)` (BPETokenizer+Files.swift).
public struct BPETokenizer: Tokenizer {
    /// The model's vocab_size: at least one more than the largest token id (the embedding may
    /// have spare rows).
    public let vocabularySize: Int
    let model: BPEModel
    /// The pre-tokenizer's split; nil when the text is not split (ByteLevel without its regex).
    let pattern: PreTokenizerPattern?
    let nfc: Bool
    let addedTokens: [AddedToken]
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    /// Ids the post-processor puts before and after the text's ids.
    let templatePrefix: [Int], templateSuffix: [Int]
    /// The text of each token id (vocabulary entries in the byte-level alphabet, added tokens as is).
    let tokenTexts: [Int: String]

    init(vocabularySize: Int, model: BPEModel, pattern: PreTokenizerPattern?, nfc: Bool, addedTokens: [AddedToken],
         templatePrefix: [Int] = [], templateSuffix: [Int] = []) throws {
        self.model = model
        self.pattern = pattern
        self.nfc = nfc
        self.addedTokens = addedTokens
        rawMatcher = AddedTokenMatcher(addedTokens.filter { !$0.normalized })
        normalizedMatcher = AddedTokenMatcher(addedTokens.filter(\.normalized))
        self.templatePrefix = templatePrefix
        self.templateSuffix = templateSuffix
        var texts: [Int: String] = [:]
        for (text, id) in model.vocab { texts[id] = text }
        for token in addedTokens { texts[token.id] = token.content }
        tokenTexts = texts
        let largest = max(texts.keys.max() ?? -1, (templatePrefix + templateSuffix).max() ?? -1)
        guard largest < vocabularySize else {
            throw TokenizerError.malformed("token id \(largest) is outside the model's vocab_size \(vocabularySize)")
        }
        self.vocabularySize = vocabularySize
    }

    /// The ids of `text` as `tokenizers` encodes it with its default `add_special_tokens=True`.
    public func encode(_ text: String) throws -> [Int] { encode(text, addingSpecialTokens: true) }

    /// The ids of `text`; without `addingSpecialTokens` the post-processor's tokens are left out
    /// (as a chat template's own BOS needs).
    public func encode(_ text: String, addingSpecialTokens: Bool) -> [Int] {
        var ids: [Int] = addingSpecialTokens ? templatePrefix : []
        let scalars = Array(text.unicodeScalars)
        for segment in rawMatcher.split(scalars) {
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let range): encodeBetweenRawTokens(Array(scalars[range]), into: &ids)
            }
        }
        if addingSpecialTokens { ids += templateSuffix }
        return ids
    }

    private func encodeBetweenRawTokens(_ scalars: [Unicode.Scalar], into ids: inout [Int]) {
        var text = scalars
        if nfc {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            text = Array(String(view).precomposedStringWithCanonicalMapping.unicodeScalars)
        }
        for segment in normalizedMatcher.split(text) {
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let range):
                let stretch = Array(text[range])
                for piece in pattern?.split(stretch) ?? [0..<stretch.count] {
                    var bytes: [UInt8] = []
                    for scalar in stretch[piece] { bytes.append(contentsOf: UTF8.encode(scalar)!) }
                    ids += model.encode(bytes)
                }
            }
        }
    }

    /// The text of `ids`: the bytes their tokens spell, read as UTF-8 (invalid sequences become
    /// U+FFFD); ids without a token show as "<?>".
    public func decode(_ ids: [Int]) -> String {
        var out = ""
        var bytes: [UInt8] = []
        for id in ids {
            if let text = tokenTexts[id] {
                bytes += ByteLevel.decode(text)
            } else {
                out += String(decoding: bytes, as: UTF8.self) + "<?>"
                bytes = []
            }
        }
        return out + String(decoding: bytes, as: UTF8.self)
    }

    /// The text of one token; a token that is part of a UTF-8 sequence (a piece of an emoji, say)
    /// shows its bytes, `<0xF0><0x9F>`.
    public func piece(_ id: Int) -> String {
        guard let text = tokenTexts[id] else { return "<?>" }
        let bytes = ByteLevel.decode(text)
        if let valid = String(validating: bytes, as: UTF8.self) { return valid }
        return bytes.map { "<0x" + String($0, radix: 16, uppercase: true).leftPadded(to: 2) + ">" }.joined()
    }

    /// The id of the added token whose text is `content` (a special token such as `<|eot_id|>`).
    public func addedTokenID(_ content: String) -> Int? {
        addedTokens.first { $0.content == content }?.id
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
