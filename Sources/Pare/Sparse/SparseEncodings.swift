/// Exact conversions between `BitmaskMatrix` and the parts of Pare's three sparse file
/// encodings (docs/format.md, "Sparse tensors"): CSR, packed bitmask and N:M.
///
/// Every conversion keeps the non-zero weights bit for bit, in row-major order. A stored value
/// of zero is a pruned weight (the zero pattern is the mask, as for dense files), so reading
/// drops it; densifying gives +0 at every pruned position.
///
/// Reading a file is two steps so that nothing is trusted before it is checked: the `check...`
/// functions validate a file's structure arrays (row pointers, column indices, mask bytes, N:M
/// positions) before any value is read; the initialisers then combine them with the values.
/// Each initialiser repeats its check (cheap next to reading), so no input can make it trap.
extension BitmaskMatrix {
    /// Whether weight [r, c] is kept (bit c of row r).
    @inline(__always)
    func isKept(row r: Int, col c: Int) -> Bool {
        mask[r * wordsPerRow + c >> 6] >> UInt64(c & 63) & 1 != 0
    }

    /// Row and column of the kept value at `index` of `keptValues` (for error messages).
    public func position(ofKept index: Int) -> [Int] {
        guard index >= 0, index < keptCount else { return [] }
        // The row is the last one starting at or before `index`.
        var low = 0, high = rows
        while high - low > 1 {
            let mid = (low + high) / 2
            if rowStart[mid] <= Int64(index) { low = mid } else { high = mid }
        }
        var remaining = index - Int(rowStart[low])
        for c in 0..<cols where isKept(row: low, col: c) {
            if remaining == 0 { return [low, c] }
            remaining -= 1
        }
        return []
    }

    // MARK: CSR (anndata "csr_matrix")

    /// The column of every kept value, in `keptValues` order. With `rowStart` as the row
    /// pointers (`indptr`) and `keptValues` as `data`, this is the matrix in CSR form.
    public func columnIndices() -> [Int32] {
        var indices = [Int32](repeating: 0, count: keptCount)
        Self.forEachKept(mask: mask, rows: 0..<rows, wordsPerRow: wordsPerRow) { i, _, column in indices[i] = Int32(column) }
        return indices
    }

    /// Checks CSR structure for a [rows, cols] matrix: `indptr` has rows + 1 entries, starts at
    /// 0, never decreases and ends at `indices.count`; within a row the column indices lie in
    /// 0 ..< cols and strictly increase (sorted, no repeats).
    public static func checkCSR<Index: FixedWidthInteger>(rows: Int, cols: Int, indptr: [Int64], indices: [Index]) throws {
        guard indptr.count == rows + 1 else {
            throw SparseFormatError.inconsistent("indptr has \(indptr.count) entries, expected rows + 1 = \(rows + 1)")
        }
        guard indptr[0] == 0 else { throw SparseFormatError.inconsistent("indptr[0] is \(indptr[0]), expected 0") }
        for r in 0..<rows where indptr[r + 1] < indptr[r] {
            throw SparseFormatError.inconsistent("indptr decreases at row \(r) (indptr[\(r)] = \(indptr[r]), indptr[\(r + 1)] = \(indptr[r + 1]))")
        }
        guard indptr[rows] == Int64(indices.count) else {
            throw SparseFormatError.inconsistent("indptr[\(rows)] is \(indptr[rows]) but indices holds \(indices.count) entries")
        }
        for r in 0..<rows {
            var previous = -1
            for k in Int(indptr[r])..<Int(indptr[r + 1]) {
                let c = Int(clamping: indices[k])
                guard c >= 0 && c < cols else {
                    throw SparseFormatError.inconsistent("indices[\(k)] = \(indices[k]) in row \(r) is outside 0..<\(cols)")
                }
                guard c > previous else {
                    throw SparseFormatError.inconsistent("indices of row \(r) do not strictly increase at indices[\(k)] (\(c) after \(previous))")
                }
                previous = c
            }
        }
    }

    /// Row and column of value `index` of a checked CSR matrix (for error messages).
    public static func csrPosition<Index: FixedWidthInteger>(ofStored index: Int, indptr: [Int64], indices: [Index]) -> [Int] {
        guard index >= 0, index < indices.count, indptr.count >= 2 else { return [] }
        var low = 0, high = indptr.count - 1
        while high - low > 1 {
            let mid = (low + high) / 2
            if indptr[mid] <= Int64(index) { low = mid } else { high = mid }
        }
        return [low, Int(clamping: indices[index])]
    }

    /// From CSR parts (checked as `checkCSR` does) and one value per index.
    public init<Index: FixedWidthInteger>(rows: Int, cols: Int, indptr: [Int64], indices: [Index], values: [Float]) throws {
        try Self.checkCSR(rows: rows, cols: cols, indptr: indptr, indices: indices)
        guard values.count == indices.count else {
            throw SparseFormatError.inconsistent("data holds \(values.count) values but indices holds \(indices.count)")
        }
        let wpr = (cols + 63) / 64
        var mask = [UInt64](repeating: 0, count: rows * wpr)
        var kept: [Float] = []
        kept.reserveCapacity(values.count)
        for r in 0..<rows {
            for k in Int(indptr[r])..<Int(indptr[r + 1]) where values[k] != 0 {
                let c = Int(clamping: indices[k])
                mask[r * wpr + c >> 6] |= 1 << UInt64(c & 63)
                kept.append(values[k])
            }
        }
        try self.init(rows: rows, cols: cols, mask: mask, values: kept)
    }

    // MARK: Packed bitmask

    /// Bytes per row of the packed bitmask: ceil(cols / 8).
    public static func packedBytesPerRow(cols: Int) -> Int { (cols + 7) / 8 }

    /// The mask as bytes [rows, ceil(cols / 8)]: bit j (value 1 << j) of byte b in row r keeps
    /// weight [r, 8 b + j]; bits past the last column are zero. This is numpy's
    /// `packbits(mask, axis=1, bitorder="little")`, and on a little-endian machine exactly the
    /// leading bytes of each row's 64-bit mask words.
    public func packedBitmask() -> [UInt8] {
        let bytesPerRow = Self.packedBytesPerRow(cols: cols)
        var bytes = [UInt8](repeating: 0, count: rows * bytesPerRow)
        for r in 0..<rows {
            for b in 0..<bytesPerRow {
                bytes[r * bytesPerRow + b] = UInt8(truncatingIfNeeded: mask[r * wordsPerRow + b >> 3] >> UInt64((b & 7) * 8))
            }
        }
        return bytes
    }

    /// Checks packed mask bytes [rows, ceil(cols / 8)] (no bit set past the last column) and
    /// returns how many weights they keep, which must equal the number of stored values.
    @discardableResult
    public static func checkPackedBitmask(rows: Int, cols: Int, bytes: [UInt8]) throws -> Int {
        let bytesPerRow = packedBytesPerRow(cols: cols)
        guard bytes.count == rows * bytesPerRow else {
            throw SparseFormatError.inconsistent("bitmask holds \(bytes.count) bytes, expected \(rows) x \(bytesPerRow)")
        }
        let tailBits = cols % 8
        var kept = 0
        for r in 0..<rows {
            if tailBits != 0, bytesPerRow > 0, bytes[r * bytesPerRow + bytesPerRow - 1] >> UInt8(tailBits) != 0 {
                throw SparseFormatError.inconsistent("bitmask row \(r) sets bits past column \(cols - 1)")
            }
            for b in 0..<bytesPerRow { kept += bytes[r * bytesPerRow + b].nonzeroBitCount }
        }
        return kept
    }

    /// Row and column of value `index` of a checked packed bitmask (for error messages).
    public static func packedBitmaskPosition(ofStored index: Int, rows: Int, cols: Int, bytes: [UInt8]) -> [Int] {
        let bytesPerRow = packedBytesPerRow(cols: cols)
        var remaining = index
        for r in 0..<rows {
            for b in 0..<bytesPerRow {
                let byte = bytes[r * bytesPerRow + b]
                if remaining < byte.nonzeroBitCount {
                    var bits = byte
                    for _ in 0..<remaining { bits &= bits - 1 }
                    return [r, 8 * b + bits.trailingZeroBitCount]
                }
                remaining -= byte.nonzeroBitCount
            }
        }
        return []
    }

    /// From packed mask bytes (checked as `checkPackedBitmask` does) and the kept values in
    /// row-major order, one per set bit.
    public init(rows: Int, cols: Int, packedBitmask bytes: [UInt8], values: [Float]) throws {
        let kept = try Self.checkPackedBitmask(rows: rows, cols: cols, bytes: bytes)
        guard kept == values.count else {
            throw SparseFormatError.inconsistent("bitmask keeps \(kept) weights but values holds \(values.count)")
        }
        let bytesPerRow = Self.packedBytesPerRow(cols: cols), wpr = (cols + 63) / 64
        var mask = [UInt64](repeating: 0, count: rows * wpr)
        for r in 0..<rows {
            for b in 0..<bytesPerRow {
                mask[r * wpr + b >> 3] |= UInt64(bytes[r * bytesPerRow + b]) << UInt64((b & 7) * 8)
            }
        }
        guard values.contains(0) else {
            try self.init(rows: rows, cols: cols, mask: mask, values: values)
            return
        }
        // Stored zeros are pruned weights: clear their bits, in the same row-major order.
        var nonZero: [Float] = []
        nonZero.reserveCapacity(values.count)
        var i = 0
        for w in 0..<mask.count {
            var bits = mask[w]
            while bits != 0 {
                let bit = bits & (~bits &+ 1)
                if values[i] == 0 { mask[w] &= ~bit } else { nonZero.append(values[i]) }
                i += 1
                bits &= bits - 1
            }
        }
        try self.init(rows: rows, cols: cols, mask: mask, values: nonZero)
    }

    // MARK: N:M

    /// Checks that a [rows, cols] weight can be held N:M: 1 <= n <= m <= 256 (positions are
    /// bytes) and whole groups of m inputs per row.
    public static func checkNOfM(cols: Int, n: Int, m: Int) throws {
        guard n >= 1, n <= m, m <= 256 else {
            throw SparseFormatError.inconsistent("n = \(n), m = \(m) are not 1 <= n <= m <= 256")
        }
        guard cols % m == 0 else {
            throw SparseFormatError.inconsistent("\(cols) columns are not whole groups of m = \(m)")
        }
    }

    /// Stored slots per row in the N:M encoding: cols / m * n.
    public static func nOfMSlotsPerRow(cols: Int, n: Int, m: Int) -> Int { m > 0 ? cols / m * n : 0 }

    /// The N:M parts, each [rows, cols / m * n]: group g of row r (columns m g ..< m g + m)
    /// owns slots n g ..< n g + n of the row. Its kept weights fill them with (position within
    /// the group, value); a group keeping fewer than n pads with value 0 at its lowest unkept
    /// positions. Within a group the slots are in increasing position order.
    /// Throws when a group keeps more than n weights.
    public func nOfMParts(n: Int, m: Int) throws -> (positions: [UInt8], values: [Float]) {
        try Self.checkNOfM(cols: cols, n: n, m: m)
        let groups = cols / m, slotsPerRow = groups * n
        var positions = [UInt8](repeating: 0, count: rows * slotsPerRow)
        var slotValues = [Float](repeating: 0, count: rows * slotsPerRow)
        var next = 0  // index into the kept values
        for r in 0..<rows {
            for g in 0..<groups {
                var kept = 0
                for p in 0..<m where isKept(row: r, col: g * m + p) { kept += 1 }
                guard kept <= n else {
                    throw SparseFormatError.inconsistent("row \(r) keeps \(kept) weights in columns \(g * m)..<\(g * m + m), more than n = \(n)")
                }
                var padding = n - kept
                var slot = r * slotsPerRow + g * n
                for p in 0..<m {
                    if isKept(row: r, col: g * m + p) {
                        positions[slot] = UInt8(p)
                        slotValues[slot] = values[next]
                        next += 1
                        slot += 1
                    } else if padding > 0 {
                        positions[slot] = UInt8(p)  // value stays 0
                        padding -= 1
                        slot += 1
                    }
                }
            }
        }
        return (positions, slotValues)
    }

    /// Checks N:M positions [rows, cols / m * n]: each below m, none repeated within a group.
    public static func checkNOfM(rows: Int, cols: Int, n: Int, m: Int, positions: [UInt8]) throws {
        try checkNOfM(cols: cols, n: n, m: m)
        let slotsPerRow = nOfMSlotsPerRow(cols: cols, n: n, m: m)
        guard positions.count == rows * slotsPerRow else {
            throw SparseFormatError.inconsistent("indices hold \(positions.count) entries, expected \(rows) x \(slotsPerRow)")
        }
        var seen = [UInt64](repeating: 0, count: 4)  // one bit per position 0..<256
        for r in 0..<rows {
            for g in 0..<(cols / m) {
                for w in 0..<4 { seen[w] = 0 }
                for s in (g * n)..<(g * n + n) {
                    let p = Int(positions[r * slotsPerRow + s])
                    guard p < m else {
                        throw SparseFormatError.inconsistent("indices[\(r), \(s)] = \(p) is not below m = \(m)")
                    }
                    let bit: UInt64 = 1 << UInt64(p & 63)
                    guard seen[p >> 6] & bit == 0 else {
                        throw SparseFormatError.inconsistent("row \(r) names position \(p) twice in group \(g) (indices[\(r), \(s)])")
                    }
                    seen[p >> 6] |= bit
                }
            }
        }
    }

    /// Row and column of slot `index` of checked N:M positions (for error messages).
    public static func nOfMPosition(ofStored index: Int, cols: Int, n: Int, m: Int, positions: [UInt8]) -> [Int] {
        let slotsPerRow = nOfMSlotsPerRow(cols: cols, n: n, m: m)
        guard slotsPerRow > 0, index >= 0, index < positions.count else { return [] }
        let slot = index % slotsPerRow
        return [index / slotsPerRow, slot / n * m + Int(positions[index])]
    }

    /// From N:M parts (checked as `checkNOfM` does): slot values, zeros where a group pads.
    public init(rows: Int, cols: Int, n: Int, m: Int, positions: [UInt8], values slotValues: [Float]) throws {
        try Self.checkNOfM(rows: rows, cols: cols, n: n, m: m, positions: positions)
        guard slotValues.count == positions.count else {
            throw SparseFormatError.inconsistent("values hold \(slotValues.count) entries but indices hold \(positions.count)")
        }
        let slotsPerRow = Self.nOfMSlotsPerRow(cols: cols, n: n, m: m), wpr = (cols + 63) / 64
        var mask = [UInt64](repeating: 0, count: rows * wpr)
        var kept: [Float] = []
        kept.reserveCapacity(slotValues.count)
        // slotAt[p]: the slot holding position p of the current group, or -1. Walking positions
        // in order puts each row's kept values in column order whatever order the slots are in.
        var slotAt = [Int](repeating: -1, count: m)
        for r in 0..<rows {
            for g in 0..<(cols / m) {
                for s in (g * n)..<(g * n + n) { slotAt[Int(positions[r * slotsPerRow + s])] = r * slotsPerRow + s }
                for p in 0..<m where slotAt[p] >= 0 {
                    let value = slotValues[slotAt[p]]
                    slotAt[p] = -1
                    guard value != 0 else { continue }
                    let c = g * m + p
                    mask[r * wpr + c >> 6] |= 1 << UInt64(c & 63)
                    kept.append(value)
                }
            }
        }
        try self.init(rows: rows, cols: cols, mask: mask, values: kept)
    }
}
