/// Which weights of a linear [out, in] are kept: a value of its own, so a pruner can return it,
/// SEFT can evolve it and an exporter can write it.
///
/// Stored as one bit per weight, row-major, packed into 64-bit words.
public struct Mask: Equatable, Sendable {
    public let rows: Int
    public let cols: Int
    /// Bit i of word i / 64 is weight i (row-major); 1 = kept.
    public private(set) var words: [UInt64]

    /// Every weight kept.
    public init(keepingAll rows: Int, _ cols: Int) {
        self.rows = rows
        self.cols = cols
        let n = rows * cols
        words = [UInt64](repeating: ~0, count: (n + 63) / 64)
        if n % 64 != 0, !words.isEmpty { words[words.count - 1] = (1 << UInt64(n % 64)) - 1 }
    }

    /// From a keep list (true = kept), row-major.
    public init(keep: [Bool], rows: Int, cols: Int) {
        precondition(keep.count == rows * cols, "Mask: \(keep.count) entries for [\(rows), \(cols)]")
        self.rows = rows
        self.cols = cols
        words = [UInt64](repeating: 0, count: (keep.count + 63) / 64)
        keep.withUnsafeBufferPointer { k in
            for i in 0..<k.count where k[i] { words[i >> 6] |= 1 << UInt64(i & 63) }
        }
    }

    /// The non-zero pattern of a weight [out, in]: a pruned tensor stored dense with exact zeros.
    public init(nonZerosOf w: Tensor) {
        self.init(keep: w.data.map { $0 != 0 }, rows: w.rows, cols: w.cols)
    }

    public var count: Int { rows * cols }

    public subscript(flat i: Int) -> Bool { self[i] }

    private subscript(i: Int) -> Bool { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }

    /// Number of kept weights.
    public var keptCount: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Fraction of weights removed.
    public var sparsity: Double { count == 0 ? 0 : 1 - Double(keptCount) / Double(count) }

    /// Zeroes every weight the mask removes. w: [rows, cols].
    public func apply(to w: inout Tensor) {
        precondition(w.rows == rows && w.cols == cols, "Mask.apply: mask [\(rows), \(cols)], weight \(w.shape)")
        words.withUnsafeBufferPointer { m in
            w.data.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count where m[i >> 6] & (1 << UInt64(i & 63)) == 0 { p[i] = 0 }
            }
        }
    }

    /// Share of positions where two masks of the same shape differ.
    public func changedFraction(from other: Mask) -> Double {
        precondition(rows == other.rows && cols == other.cols, "Mask: shapes differ")
        let differing = zip(words, other.words).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount }
        return count == 0 ? 0 : Double(differing) / Double(count)
    }
}
