import CSparseKernels

/// A pruned weight [out, in] held sparse: one bit per weight, row by row, and the kept values
/// packed in row order. Pare's in-memory sparse format (the kernels run on it) and one of its
/// file encodings (docs/format.md).
///
/// Why a bitmask rather than CSR: at 70 % sparsity a 16-bit column index plus an fp32 value is
/// 0.3 x 6 = 1.8 bytes per weight (0.45 of dense), the bitmask 1/8 + 0.3 x 4 = 1.33 (0.33).
/// CSR and N:M files are converted to it on load, exactly and without a dense copy.
public struct BitmaskMatrix: Equatable, Sendable {
    public let rows: Int
    public let cols: Int
    /// Mask words per row: ceil(cols / 64). Rows start on a word boundary.
    public let wordsPerRow: Int
    /// [rows, wordsPerRow]: bit j of word k in row r keeps weight [r, 64 k + j].
    public let mask: [UInt64]
    /// The kept weights in row-major order, then `padding` zeros (the AVX2 kernel reads up to
    /// 8 floats past a row's last value).
    public let values: [Float]
    /// [rows + 1]: row r's kept values are values[rowStart[r] ..< rowStart[r + 1]].
    public let rowStart: [Int64]
    /// The column of every kept value (parallel to `values`), held only for very sparse
    /// matrices (`pare_bitmask_wants_columns`: at most 15 % kept), where decoding the mask
    /// would cost more than the products; empty otherwise. Derived from the mask, never stored
    /// in a file. 2 bytes per kept weight in memory: at 90 % sparsity 0.18 of dense instead of 0.13.
    /// Then `padding` zeros, as `values` (the tile kernel reads two columns ahead).
    public let columns: [UInt16]

    static let padding = 16

    public var keptCount: Int { Int(rowStart[rows]) }
    public var count: Int { rows * cols }
    public var sparsity: Double { count == 0 ? 0 : 1 - Double(keptCount) / Double(count) }

    /// Bytes the format needs: mask, kept values (at `valueBytes` each) and row offsets.
    public func storageBytes(valueBytes: Int = 4) -> Int {
        mask.count * 8 + keptCount * valueBytes + rowStart.count * 8
    }

    /// Bytes held in memory: the format, and the column index when there is one.
    public var residentBytes: Int { storageBytes() + columns.count * 2 }

    /// From a dense weight [out, in] whose zeros are the pruned positions.
    public init(dense w: Tensor) {
        precondition(w.rank == 2, "BitmaskMatrix: weight must be [out, in], got \(w.shape)")
        let rows = w.rows, cols = w.cols, wpr = (cols + 63) / 64
        var mask = [UInt64](repeating: 0, count: rows * wpr)
        var rowStart = [Int64](repeating: 0, count: rows + 1)
        w.data.withUnsafeBufferPointer { p in
            mask.withUnsafeMutableBufferPointer { m in
                for r in 0..<rows {
                    rowStart[r + 1] = rowStart[r] + pare_bitmask_count_row(p.baseAddress! + r * cols, Int64(cols), m.baseAddress! + r * wpr)
                }
            }
        }
        let kept = Int(rowStart[rows])
        let values = [Float](unsafeUninitializedCapacity: kept + Self.padding) { v, n in
            w.data.withUnsafeBufferPointer { p in
                for r in 0..<rows {
                    // Each row writes one float past its kept values; the next row (or the
                    // padding) overwrites it.
                    pare_bitmask_pack_row(p.baseAddress! + r * cols, Int64(cols), v.baseAddress! + Int(rowStart[r]))
                }
            }
            for i in kept..<(kept + Self.padding) { v[i] = 0 }
            n = kept + Self.padding
        }
        self.init(rows: rows, cols: cols, mask: mask, paddedValues: values, rowStart: rowStart)
    }

    /// From its parts: a row-aligned mask and the kept values in row order (exactly as many as
    /// mask bits). Throws when they disagree; a file's parts go through here.
    public init(rows: Int, cols: Int, mask: [UInt64], values: [Float]) throws {
        let wpr = (cols + 63) / 64
        guard rows >= 0, cols >= 0, mask.count == rows * wpr else {
            throw SparseFormatError.inconsistent("bitmask of \(mask.count) words for [\(rows), \(cols)] (needs \(rows * wpr))")
        }
        var rowStart = [Int64](repeating: 0, count: rows + 1)
        let tailBits = cols % 64
        for r in 0..<rows {
            var n = 0
            for k in 0..<wpr {
                let word = mask[r * wpr + k]
                if k == wpr - 1, tailBits != 0, word >> UInt64(tailBits) != 0 {
                    throw SparseFormatError.inconsistent("bitmask row \(r) keeps columns past \(cols)")
                }
                n += word.nonzeroBitCount
            }
            rowStart[r + 1] = rowStart[r] + Int64(n)
        }
        guard rowStart[rows] == Int64(values.count) else {
            throw SparseFormatError.inconsistent("bitmask keeps \(rowStart[rows]) weights but \(values.count) values are stored")
        }
        self.init(rows: rows, cols: cols, mask: mask, paddedValues: values + [Float](repeating: 0, count: Self.padding),
                  rowStart: rowStart)
    }

    private init(rows: Int, cols: Int, mask: [UInt64], paddedValues: [Float], rowStart: [Int64]) {
        self.rows = rows
        self.cols = cols
        self.wordsPerRow = (cols + 63) / 64
        self.mask = mask
        self.values = paddedValues
        self.rowStart = rowStart
        let kept = Int(rowStart[rows])
        let density = rows * cols == 0 ? 1 : Double(kept) / Double(rows * cols)
        guard pare_bitmask_wants_columns(density, Int64(cols)) != 0 else {
            self.columns = []
            return
        }
        self.columns = [UInt16](unsafeUninitializedCapacity: kept + Self.padding) { c, n in
            Self.forEachKept(mask: mask, rows: 0..<rows, wordsPerRow: (cols + 63) / 64) { i, _, column in c[i] = UInt16(column) }
            for i in kept..<(kept + Self.padding) { c[i] = 0 }
            n = kept + Self.padding
        }
    }

    /// Calls `body(i, row, column)` for every kept weight of `rows` in row-major order (i counts
    /// them from `firstIndex`, the index of the first row's first kept weight): the one walk over
    /// the mask's set bits.
    static func forEachKept(mask: [UInt64], rows: Range<Int>, firstIndex: Int = 0, wordsPerRow: Int,
                            _ body: (Int, Int, Int) -> Void) {
        mask.withUnsafeBufferPointer { m in
            var i = firstIndex
            for r in rows {
                for k in 0..<wordsPerRow {
                    var bits = m[r * wordsPerRow + k]
                    while bits != 0 {
                        body(i, r, k * 64 + bits.trailingZeroBitCount)
                        i += 1
                        bits &= bits - 1
                    }
                }
            }
        }
    }

    /// The kept values without padding.
    public var keptValues: ArraySlice<Float> { values[0..<keptCount] }

    /// The dense weight [out, in], zeros where pruned.
    public var dense: Tensor { rows(in: 0..<rows) }

    /// Output rows `range` as a dense [range.count, in] tensor, zeros where pruned; only those
    /// rows are decoded (row r's values start at rowStart[r]).
    public func rows(in range: Range<Int>) -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows(in:): \(range) is outside 0..<\(rows)")
        var out = Tensor(zeros: [range.count, cols])
        out.data.withUnsafeMutableBufferPointer { d in
        values.withUnsafeBufferPointer { v in
            let (cols, first) = (cols, range.lowerBound)
            Self.forEachKept(mask: mask, rows: range, firstIndex: Int(rowStart[first]), wordsPerRow: wordsPerRow) { i, r, c in
                d[(r - first) * cols + c] = v[i]
            }
        }}
        return out
    }

    /// Calls `body` with the C kernels' view of this matrix (valid only inside `body`).
    func withKernelView<R>(_ body: (inout pare_bitmask_matrix) -> R) -> R {
        mask.withUnsafeBufferPointer { m in
        values.withUnsafeBufferPointer { v in
        rowStart.withUnsafeBufferPointer { rs in
        columns.withUnsafeBufferPointer { c in
            var view = pare_bitmask_matrix(
                rows: Int64(rows), cols: Int64(cols), words_per_row: Int64(wordsPerRow),
                mask: m.baseAddress, values: v.baseAddress, row_start: rs.baseAddress,
                columns: columns.isEmpty ? nil : c.baseAddress)
            return body(&view)
        }}}}
    }
}

/// A sparse part that disagrees with itself or its declared shape.
public enum SparseFormatError: Error, Equatable, CustomStringConvertible {
    case inconsistent(String)
    public var description: String {
        switch self { case .inconsistent(let why): return "sparse tensor: \(why)" }
    }
}
