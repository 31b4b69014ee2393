
/// SparseGPT (docs/algorithms.md §4): prune column block by column block, compensating each
/// removed weight with an update of the not-yet-processed columns through the inverse Hessian.
///
///   H = (2/n) X^T X (+ damping), U = upper Cholesky factor of H^-1
///   per block of columns: choose the mask from w^2 / diag(U)^2 on the updated weights (the
///   whole block at its start when unstructured; each M-group when the loop reaches its first
///   column for N:M, as the reference code does), then per column i:
///   err = (w_i - q_i) / U_ii; W[:, i:] -= err U[i, i:]
///   and after the block: W[:, end:] -= Err U[block, end:]
public struct SparseGPTPruner: LinearPruner {
    public init() {}

    public func prune(_ w0: Tensor, statistics: LinearStatistics, spec: PruningSpec) throws -> PrunedWeight {
        var w = w0
        let rows = w.rows, cols = w.cols
        var h = statistics.gram
        let scale = 2 / Float(max(1, statistics.samples))
        for i in 0..<h.count { h[i] *= scale }
        // Dead inputs: H_dd = 1 and the column zeroed.
        for d in 0..<cols where h[d * cols + d] == 0 {
            h[d * cols + d] = 1
            for r in 0..<rows { w.data[r * cols + d] = 0 }
        }
        let u = try Self.upperCholeskyOfInverse(h, n: cols, dampening: Float(spec.dampening))

        w.data.withUnsafeMutableBufferPointer { wp in
        u.withUnsafeBufferPointer { up in
            let W = wp.baseAddress!, U = up.baseAddress!
            var start = 0
            while start < cols {
                let end = min(start + spec.blockSize, cols), width = end - start
                // Mask of this block (true = prune), from the weights as updated so far: the whole
                // block at its start (unstructured), or group by group as the column loop reaches
                // each group's first column (N:M, below).
                var prune = [Bool](repeating: false, count: rows * width)
                /// Scores w^2 / U_jj^2 of block columns cols, [rows, cols.count].
                func scores(_ columns: Range<Int>) -> [Float] {
                    var out = [Float](repeating: 0, count: rows * columns.count)
                    for r in 0..<rows {
                        for (j, c) in columns.enumerated() {
                            let d = U[(start + c) * cols + start + c], x = W[r * cols + start + c]
                            out[r * columns.count + j] = x * x / (d * d)
                        }
                    }
                    return out
                }
                if spec.pattern == .unstructured {
                    // One comparison group over the whole block: exactly the k lowest, ties to the
                    // lower index (the reference prunes every score <= the k-th, k + 1 or more).
                    let keep = MaskSelection.keepMask(scores: scores(0..<width), rows: 1, cols: rows * width,
                                                      pattern: .unstructured, sparsity: spec.sparsity, perRow: false)
                    for i in 0..<prune.count { prune[i] = !keep[i] }
                }
                // Column by column, pushing each error onto the rest of the block.
                var err = [Float](repeating: 0, count: rows * width)   // [rows, width]
                for c in 0..<width {
                    let col = start + c, d = U[col * cols + col]
                    if case .nOfM(let n, let m) = spec.pattern, col % m == 0 {
                        let group = c..<min(c + m, width)
                        let keep = MaskSelection.keepMask(scores: scores(group), rows: rows, cols: group.count,
                                                          pattern: .nOfM(n: n, m: m), sparsity: 0)
                        for r in 0..<rows {
                            for (j, cc) in group.enumerated() { prune[r * width + cc] = !keep[r * group.count + j] }
                        }
                    }
                    for r in 0..<rows {
                        let x = W[r * cols + col]
                        let q: Float = prune[r * width + c] ? 0 : x
                        err[r * width + c] = (x - q) / d
                        W[r * cols + col] = q
                    }
                    if col + 1 < end {
                        // Rank-1 update of the rest of the block: W[:, col+1..<end] -= err[:, c] U[col, col+1..<end]
                        err.withUnsafeBufferPointer { ep in
                            BLAS.rankOneUpdate(rows: rows, cols: end - col - 1, alpha: -1, x: ep.baseAddress! + c, incx: width,
                                               y: U + col * cols + col + 1, a: W + col + 1, lda: cols)
                        }
                    }
                }
                // Propagate the block's errors to the remaining columns: W[:, end:] -= Err U[start..<end, end:]
                if end < cols {
                    err.withUnsafeBufferPointer { ep in
                        BLAS.gemm(m: rows, n: cols - end, k: width, alpha: -1,
                                  a: ep.baseAddress!, lda: width, b: U + start * cols + end, ldb: cols,
                                  beta: 1, c: W + end, ldc: cols)
                    }
                }
                start = end
            }
        }}
        // Dead input columns are zeroed as well as the pruned weights: the mask is the zero pattern.
        return PrunedWeight(weight: w, mask: Mask(nonZerosOf: w))
    }

    /// U with H^-1 = U^T U (row-major, upper triangle), after damping
    /// H += dampening * mean(diag H) * I. Retries with 10x damping if H is not positive definite.
    static func upperCholeskyOfInverse(_ h0: [Float], n: Int, dampening: Float) throws -> [Float] {
        let meanDiag = (0..<n).reduce(Float(0)) { $0 + h0[$1 * n + $1] } / Float(n)
        var damp = dampening
        for _ in 0..<4 {
            var a = h0
            for i in 0..<n { a[i * n + i] += damp * meanDiag }
            // The matrix is symmetric, so row-major and column-major storage coincide.
            var info = BLAS.choleskyFactor("L", n: n, &a)                // H = L L^T
            if info == 0 { info = BLAS.choleskyInverse("L", n: n, &a) }  // H^-1, lower triangle (column-major)
            if info == 0 {
                for j in 0..<n { for i in 0..<j { a[i + j * n] = a[j + i * n] } }   // symmetrise
                info = BLAS.choleskyFactor("U", n: n, &a)                // H^-1 = U^T U, U in the upper triangle
            }
            if info == 0 {
                // Column-major upper (i <= j at a[i + j n]) -> row-major U[i][j].
                var u = [Float](repeating: 0, count: n * n)
                for j in 0..<n { for i in 0...j { u[i * n + j] = a[i + j * n] } }
                return u
            }
            damp *= 10
        }
        throw PruningError.numerical("SparseGPT: the calibration Hessian is not positive definite even with damping \(damp / 10)")
    }
}
