import CBLAS

/// Dense matrix products through OpenBLAS `cblas_sgemm`. Every dense matmul in Pare goes here.
public enum BLAS {
    /// Sets how many threads OpenBLAS uses (default: all cores).
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// C = alpha * op(A) op(B) + beta * C on raw row-major buffers.
    /// op(A) is [m, k], op(B) is [k, n], C is [m, n]; lda/ldb/ldc are row strides.
    @inline(__always)
    public static func gemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(CblasRowMajor,
                    transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y = x W^T for a linear layer: x [tokens, in], W [out, in] -> y [tokens, out].
    public static func linear(_ x: Tensor, _ w: Tensor) -> Tensor {
        precondition(x.cols == w.cols, "linear: input has \(x.cols) features, weight expects \(w.cols)")
        var y = Tensor(zeros: [x.rows, w.rows])
        linear(x, w, into: &y)
        return y
    }

    /// y = x W^T written into an existing [tokens, out] tensor.
    public static func linear(_ x: Tensor, _ w: Tensor, into y: inout Tensor) {
        linear(x, w, into: &y, beta: 0)
    }

    /// y += x W^T (a residual connection fused into the matmul).
    public static func linearAccumulate(_ x: Tensor, _ w: Tensor, into y: inout Tensor) {
        linear(x, w, into: &y, beta: 1)
    }

    private static func linear(_ x: Tensor, _ w: Tensor, into y: inout Tensor, beta: Float) {
        precondition(x.cols == w.cols && y.rows == x.rows && y.cols == w.rows, "linear: shape mismatch")
        let tokens = x.rows, inF = w.cols, outF = w.rows
        guard tokens > 0, outF > 0 else { return }
        x.data.withUnsafeBufferPointer { xp in
            w.data.withUnsafeBufferPointer { wp in
                y.data.withUnsafeMutableBufferPointer { yp in
                    gemm(transB: true, m: tokens, n: outF, k: inF,
                         a: xp.baseAddress!, lda: inF, b: wp.baseAddress!, ldb: inF,
                         beta: beta, c: yp.baseAddress!, ldc: outF)
                }
            }
        }
    }
}

/// Threads OpenBLAS runs with.
public func openblasThreads() -> Int32 { openblas_get_num_threads() }
