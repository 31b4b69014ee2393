/// The model half of a byte-level BPE tokenizer: a vocabulary of byte-level strings and the
/// ranked merges that build its longer tokens from bytes, as the `tokenizers` BPE model applies
/// them (no dropout, no subword prefix or suffix, no byte fallback).
struct BPEModel: Sendable {
    struct Merge: Sendable {
        let rank: Int
        let id: Int
    }

    let vocab: [String: Int]
    /// By pair (left id << 32 | right id).
    let merges: [UInt64: Merge]
    /// The id of each byte's alphabet character; nil when the vocabulary lacks it.
    let byteIDs: [Int?]
    let unknownID: Int?
    /// Consecutive unknown bytes become one unknown token.
    let fuseUnknown: Bool
    /// A piece that is itself a vocabulary entry is that token, merges or not (Llama-3).
    let ignoreMerges: Bool

    init(vocab: [String: Int], merges: [(String, String)], unknown: String?, fuseUnknown: Bool,
         ignoreMerges: Bool) throws {
        self.vocab = vocab
        var table: [UInt64: Merge] = [:]
        for (rank, (left, right)) in merges.enumerated() {
            guard let a = vocab[left], let b = vocab[right] else {
                throw TokenizerError.malformed("merge \(rank + 1) \"\(left) \(right)\" names a token that is not in the vocabulary")
            }
            guard let merged = vocab[left + right] else {
                throw TokenizerError.malformed("merge \(rank + 1) \"\(left) \(right)\" makes a token that is not in the vocabulary")
            }
            let key = Self.key(a, b)
            if table[key] == nil { table[key] = Merge(rank: rank, id: merged) }
        }
        self.merges = table
        byteIDs = ByteLevel.characters.map { vocab[String($0)] }
        if let unknown {
            guard let id = vocab[unknown] else { throw TokenizerError.malformed("unk_token \"\(unknown)\" is not in the vocabulary") }
            unknownID = id
        } else {
            unknownID = nil
        }
        self.fuseUnknown = fuseUnknown
        self.ignoreMerges = ignoreMerges
    }

    static func key(_ left: Int, _ right: Int) -> UInt64 { UInt64(left) << 32 | UInt64(right) }

    /// The tokens of one pre-tokenized piece, given as its UTF-8 bytes.
    func encode(_ bytes: [UInt8]) -> [Int] {
        if ignoreMerges, let id = vocab[ByteLevel.encode(bytes)] { return [id] }
        var symbols: [Int] = []
        symbols.reserveCapacity(bytes.count)
        var previousUnknown = false
        for byte in bytes {
            if let id = byteIDs[Int(byte)] {
                symbols.append(id)
                previousUnknown = false
            } else if let unknownID {
                // Like `tokenizers`: without an unknown token, a byte outside the vocabulary is dropped.
                if !(fuseUnknown && previousUnknown) { symbols.append(unknownID) }
                previousUnknown = true
            }
        }
        // Merge the lowest-ranked adjacent pair, leftmost first, until no pair has a merge.
        while symbols.count > 1 {
            var best: (index: Int, merge: Merge)?
            for i in 0..<(symbols.count - 1) {
                if let merge = merges[Self.key(symbols[i], symbols[i + 1])], merge.rank < (best?.merge.rank ?? .max) {
                    best = (i, merge)
                }
            }
            guard let best else { break }
            symbols[best.index] = best.merge.id
            symbols.remove(at: best.index + 1)
        }
        return symbols
    }
}
