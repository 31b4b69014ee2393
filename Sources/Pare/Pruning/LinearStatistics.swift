/// Calibration statistics of one linear's inputs X [tokens, in], accumulated sample by sample.
///
/// - `scalerRow`: Wanda's r_j = (1/n_samples) sum over tokens of x_tj^2, kept as the
///   reference keeps it (fp32 running mean per sample: r *= n/(n+1); n += 1; r += sum_t x_tj^2 / n).
/// - `gram`: X^T X [in, in] in fp32 (SparseGPT's H = 2/n_samples X^T X, and the
///   reconstruction error ||X D^T||^2 = sum_rows d G d^T without keeping X). Empty unless asked
///   for: at d_ff = 12288 it alone takes 600 MB.
public struct LinearStatistics: Sendable {
    public let inFeatures: Int
    public private(set) var samples = 0
    public private(set) var tokens = 0
    public private(set) var scalerRow: [Float]
    public private(set) var gram: [Float]

    public init(inFeatures: Int, keepsGram: Bool = true) {
        self.inFeatures = inFeatures
        scalerRow = [Float](repeating: 0, count: inFeatures)
        gram = keepsGram ? [Float](repeating: 0, count: inFeatures * inFeatures) : []
    }

    public var keepsGram: Bool { !gram.isEmpty || inFeatures == 0 }

    /// False once an input was NaN or infinite, or its squares overflowed fp32: scores and
    /// Hessians built from such statistics are meaningless.
    public var isFinite: Bool { scalerRow.allSatisfy(\.isFinite) && gram.allSatisfy(\.isFinite) }

    /// Adds one sample: rows `rows` of x [*, in].
    public mutating func add(_ x: Tensor, rows: Range<Int>) {
        let d = inFeatures, n = rows.count
        guard n > 0 else { return }
        let ratio = Float(samples) / Float(samples + 1)
        samples += 1
        tokens += n
        let invN = 1 / Float(samples)
        x.data.withUnsafeBufferPointer { xp in
            let base = xp.baseAddress! + rows.lowerBound * d
            scalerRow.withUnsafeMutableBufferPointer { rp in
                for j in 0..<d {
                    var ss: Float = 0
                    for t in 0..<n { let v = base[t * d + j]; ss += v * v }
                    rp[j] = rp[j] * ratio + ss * invN
                }
            }
            guard !gram.isEmpty else { return }
            gram.withUnsafeMutableBufferPointer { gp in
                // G += X_s^T X_s
                BLAS.gemm(transA: true, m: d, n: d, k: n, a: base, lda: d, b: base, ldb: d,
                          beta: 1, c: gp.baseAddress!, ldc: d)
            }
        }
    }

    /// ||X (W' - W)^T||_F / ||X W^T||_F from the Gram matrix.
    public func reconstructionError(original w: Tensor, pruned: Tensor) -> Double {
        precondition(keepsGram, "reconstructionError: the statistics keep no Gram matrix")
        var diff = pruned
        diff.data.withUnsafeMutableBufferPointer { dp in
            w.data.withUnsafeBufferPointer { wp in for i in 0..<dp.count { dp[i] -= wp[i] } }
        }
        let num = quadraticForm(diff), den = quadraticForm(w)
        return den > 0 ? (num / den).squareRoot() : 0
    }

    /// sum over rows r of w_r G w_r^T = ||X W^T||_F^2.
    func quadraticForm(_ w: Tensor) -> Double {
        var wg = Tensor(zeros: w.shape)
        let d = inFeatures
        w.data.withUnsafeBufferPointer { wp in
            gram.withUnsafeBufferPointer { gp in
                wg.data.withUnsafeMutableBufferPointer { op in
                    BLAS.gemm(m: w.rows, n: d, k: d, a: wp.baseAddress!, lda: d, b: gp.baseAddress!, ldb: d,
                              c: op.baseAddress!, ldc: d)
                }
            }
        }
        var total = 0.0
        for i in 0..<w.count { total += Double(w.data[i]) * Double(wg.data[i]) }
        return max(0, total)
    }
}

/// ||X (W' - W)^T||_F / ||X W^T||_F accumulated from the inputs X themselves, a few samples at
/// a time: cheaper than the Gram route when there are fewer calibration tokens than inputs.
public struct ReconstructionError: Sendable {
    public private(set) var squaredDifference = 0.0
    public private(set) var squaredOutput = 0.0

    public init() {}

    /// Adds the rows of x [tokens, in] for weights w and w' [out, in].
    public mutating func add(_ x: Tensor, original w: Tensor, pruned: Tensor) {
        let y = BLAS.linear(x, w), z = BLAS.linear(x, pruned)       // [tokens, out]
        y.data.withUnsafeBufferPointer { yp in
            z.data.withUnsafeBufferPointer { zp in
                for i in 0..<yp.count {
                    let a = Double(yp[i]), d = Double(zp[i]) - a
                    squaredOutput += a * a
                    squaredDifference += d * d
                }
            }
        }
    }

    public var value: Double { squaredOutput > 0 ? (squaredDifference / squaredOutput).squareRoot() : 0 }
}
