/// A dense, contiguous, row-major Float32 tensor.
///
/// Storage is a Swift array so tensors are values (copy-on-write); hot loops
/// reach the storage through `withUnsafeBufferPointer` / `withUnsafeMutableBufferPointer`
/// so they run without bounds checks.
public struct Tensor: Equatable, Sendable {
    public private(set) var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "Tensor: shape \(shape) does not hold \(data.count) values")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.shape = shape
        self.data = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// A tensor whose every value the caller overwrites before reading (the output of a
    /// product with beta = 0, a norm, attention): skips the zeroing pass, which on a small
    /// model's decoding step cost about 4 % of the CPU time.
    init(overwritten shape: [Int]) {
        self.shape = shape
        let count = shape.reduce(1, *)
        self.data = [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }

    /// Rows and columns of a rank-2 tensor, e.g. a linear weight `[out, in]`.
    public var rows: Int { shape[0] }
    public var cols: Int { shape.count > 1 ? shape[1...].reduce(1, *) : 1 }

    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }

    /// Row `r` of a rank-2 tensor, copied out.
    public func row(_ r: Int) -> [Float] {
        Array(data[(r * cols)..<((r + 1) * cols)])
    }

    /// The chosen rows of a rank-2 tensor, stacked: [rows.count, cols] (embedding lookups,
    /// picking positions for the output head or a probe).
    public func gatherRows(_ rows: [Int]) -> Tensor {
        let d = cols
        var out = Tensor(zeros: [rows.count, d])
        data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                for (i, r) in rows.enumerated() {
                    (dst.baseAddress! + i * d).update(from: src.baseAddress! + r * d, count: d)
                }
            }
        }
        return out
    }

    /// Rows `range` of a rank-2 tensor, copied out: [range.count, cols].
    public func sliceRows(_ range: Range<Int>) -> Tensor {
        Tensor(shape: [range.count, cols], data: Array(data[(range.lowerBound * cols)..<(range.upperBound * cols)]))
    }

    /// Overwrites rows start..<start + rows.rows with `rows` [n, cols].
    public mutating func setRows(startingAt start: Int, _ rows: Tensor) {
        precondition(rows.cols == cols && start + rows.rows <= self.rows, "setRows: shape mismatch")
        let d = cols
        data.withUnsafeMutableBufferPointer { dst in
            rows.data.withUnsafeBufferPointer { src in
                guard let s = src.baseAddress else { return }
                (dst.baseAddress! + start * d).update(from: s, count: src.count)
            }
        }
    }

    /// Adds `vector` [cols] to every row of a rank-2 tensor (a linear layer's bias).
    public mutating func addToEveryRow(_ vector: Tensor) {
        precondition(vector.count == cols, "addToEveryRow: vector of \(vector.count) values for \(cols) columns")
        let d = cols, n = rows
        data.withUnsafeMutableBufferPointer { dst in
            vector.data.withUnsafeBufferPointer { b in
                for r in 0..<n { for c in 0..<d { dst[r * d + c] += b[c] } }
            }
        }
    }

    /// True when every value is finite (no NaN, no infinity).
    public var isFinite: Bool {
        data.withUnsafeBufferPointer { p in
            for v in p where !v.isFinite { return false }
            return true
        }
    }

    /// Fraction of exact zeros.
    public var sparsity: Double {
        guard count > 0 else { return 0 }
        let zeros = data.withUnsafeBufferPointer { p in p.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } }
        return Double(zeros) / Double(count)
    }
}
