/// Per-position candidate tokens and their confidences from one forward pass (docs/algorithms.md §3.2-3.3).
struct Candidates {
    var tokens: [Int]        // x̂_i for each generation position
    var confidence: [Float]  // softmax(logits_i)[x̂_i], untempered
    var topGap: [Float]      // top-1 minus top-2 raw logit (Prophet's signal)

    /// logits: `rows` consecutive rows of `vocab` values. At temperature T > 0 the candidate is
    /// argmax(logits + T * Gumbel), with noise drawn row by row, id by id, from `rng`. The mask
    /// id is never a candidate: a committed mask would never leave the canvas (§3.2).
    init(logits: UnsafePointer<Float>, rows: Int, vocab: Int, maskID: Int, temperature: Double, rng: inout SplitMix64) {
        tokens = [Int](repeating: 0, count: rows)
        confidence = [Float](repeating: 0, count: rows)
        topGap = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            let row = logits + r * vocab
            // One pass: top-1 and top-2 of the raw logits (Prophet's gap, over every id; ties go
            // to the lowest id) and, at temperature 0, the candidate: the best id other than the
            // mask. The softmax sum needs the maximum first, so it is a second pass; a one-pass
            // (online) softmax would round the confidences differently from the reference.
            var top1 = row[0], top2 = -Float.infinity
            var best = maskID == 0 ? min(1, vocab - 1) : 0
            var bestValue = row[best]
            for v in 1..<max(1, vocab) {
                let x = row[v]
                if x > top1 { top2 = top1; top1 = x } else if x > top2 { top2 = x }
                if x > bestValue && v != maskID { bestValue = x; best = v }
            }
            topGap[r] = vocab > 1 ? top1 - top2 : 0
            if temperature > 0 {
                var bestNoisy = -Double.infinity
                for v in 0..<vocab {
                    let y = Double(row[v]) + temperature * rng.gumbel()
                    if v != maskID && y > bestNoisy { bestNoisy = y; best = v }
                }
            }
            tokens[r] = best
            confidence[r] = Self.probability(of: best, row: row, vocab: vocab, max: top1)
        }
    }

    /// softmax(row)[id] in fp32, with the max subtracted for stability.
    static func probability(of id: Int, row: UnsafePointer<Float>, vocab: Int, max mx: Float) -> Float {
        var sum8 = SIMD8<Float>(repeating: 0)
        let m8 = SIMD8<Float>(repeating: mx)
        let raw = UnsafeRawPointer(row)
        var i = 0
        while i + 8 <= vocab {
            sum8 += VectorMath.exp(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - m8)
            i += 8
        }
        var sum = sum8.sum()
        while i < vocab { sum += VectorMath.exp(row[i] - mx); i += 1 }
        return VectorMath.exp(row[id] - mx) / sum
    }
}

/// Prophet early commit (docs/algorithms.md §3.7): stop as soon as the answer window is decided.
public struct ProphetEarlyCommit: Sendable {
    /// Answer window: the first `window` positions of the generation region.
    public var window = 5

    public init(window: Int = 5) { self.window = window }

    /// The gap threshold at global step t of S: 7.5, 5.0, 2.5 by progress t / S.
    public static func threshold(step t: Int, of s: Int) -> Float {
        let progress = Double(t) / Double(s)
        return progress < 0.33 ? 7.5 : progress < 0.67 ? 5.0 : 2.5
    }

    /// Mean top-1/top-2 gap over the window, against the threshold of step t.
    func shouldCommitAll(gaps: [Float], step t: Int, of s: Int) -> Bool {
        let n = min(window, gaps.count)
        guard n > 0 else { return false }
        let mean = gaps[0..<n].reduce(0, +) / Float(n)
        return mean >= Self.threshold(step: t, of: s)
    }
}
