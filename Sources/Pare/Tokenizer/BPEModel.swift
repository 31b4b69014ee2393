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
        return merged(symbols)
    }

    /// Applies the merges to `symbols`: repeatedly the adjacent pair with the lowest rank (the
    /// leftmost of equal ranks) becomes its merged token, until no adjacent pair has a merge.
    /// A queue of candidate pairs keeps this O(n log n), so a long piece without a split (a page
    /// of CJK text, a base64 blob) stays fast; candidates that merges made stale are skipped.
    func merged(_ symbols: [Int]) -> [Int] {
        guard symbols.count > 1 else { return symbols }
        var ids = symbols
        // A doubly linked list over the original positions; a merged pair lives on at its left one.
        var next = Array(1...symbols.count), previous = Array(-1..<(symbols.count - 1))
        var alive = [Bool](repeating: true, count: symbols.count)
        var queue = PairQueue()
        func consider(_ left: Int) {
            let right = next[left]
            guard right < ids.count, let merge = merges[Self.key(ids[left], ids[right])] else { return }
            queue.push(.init(rank: merge.rank, position: left, left: ids[left], right: ids[right]))
        }
        for i in 0..<(ids.count - 1) { consider(i) }
        while let pair = queue.pop() {
            let left = pair.position, right = next[left]
            // Stale: the left symbol was merged away, or either side changed since this was queued.
            guard alive[left], right < ids.count, ids[left] == pair.left, ids[right] == pair.right else { continue }
            ids[left] = merges[Self.key(pair.left, pair.right)]!.id
            alive[right] = false
            next[left] = next[right]
            if next[left] < ids.count { previous[next[left]] = left }
            if previous[left] >= 0 { consider(previous[left]) }
            consider(left)
        }
        return (0..<ids.count).filter { alive[$0] }.map { ids[$0] }
    }
}

/// A binary min-heap of candidate merges ordered by (rank, position).
struct PairQueue {
    struct Pair {
        let rank: Int, position: Int, left: Int, right: Int
        func precedes(_ other: Pair) -> Bool { (rank, position) < (other.rank, other.position) }
    }

    private var heap: [Pair] = []

    mutating func push(_ pair: Pair) {
        heap.append(pair)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Pair? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < heap.count && heap[left].precedes(heap[smallest]) { smallest = left }
                if right < heap.count && heap[right].precedes(heap[smallest]) { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
