import CBLAS
import Foundation

/// Dense matrix products through OpenBLAS `cblas_sgemm`. Every dense matmul in Pare goes here,
/// and every other call into OpenBLAS (the vector and LAPACK routines below).
///
/// OpenBLAS runs single-threaded, and Pare splits a large product across its own threads.
/// Why: OpenBLAS's idle workers spin (sched_yield) for a while after each call, and on a
/// 2-core machine that spinning steals the core Pare's own threads (sparse kernels,
/// element-wise work) need next. Splitting C into column (or row) halves costs nothing
/// measurable on large products (`pare bench kernels` times dense this way and natively).
public enum BLAS {
    /// OpenBLAS's own threads: one, once, before the first call into OpenBLAS. Every call
    /// into OpenBLAS goes through this enum, whose functions read it first: when attention's products were the
    /// first calls (every linear sparse or packed), OpenBLAS kept its default threads, which
    /// spun and yielded between calls: on a 2-core machine `generate` on a LLaDA-shaped model
    /// (Wanda 70 %) took 10.2 s instead of 6.7 s with `--kernels sparse` and 15.5 s instead of
    /// 10.5 s with `--kernels dense` (packed). `pare bench generate` reports the count.
    static let singleThreaded: Void = { openblas_set_num_threads(1) }()

    /// Products below this many multiply-adds stay on one thread (OpenBLAS's and Pare's packed
    /// kernel alike). Measured with `pare bench threads` (quiet 2-core AVX-512 machine, W [128, 128]
    /// and [512, 512], T doubling): splitting OpenBLAS products loses below 2^23 (0.4-0.9x) and
    /// gains at least 1.3x from 2^24; the packed kernel's split breaks even at 2^24 (0.85-0.96x)
    /// and gains 1.1-1.25x from 2^25, and in the bundled model's forward (2^24.6-MAC linears) the
    /// split ran it 14 % faster than one thread (`bench forward` ratio 1.26 against 1.11).
    public static let threadFromWork = 1 << 24

    /// C = alpha * op(A) op(B) + beta * C on raw row-major buffers.
    /// op(A) is [m, k], op(B) is [k, n], C is [m, n]; lda/ldb/ldc are row strides.
    /// Large products are split across Pare's threads: along n when n >= m, else along m.
    public static func gemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
             beta: beta, c: c, ldc: ldc, parts: m * n * k < threadFromWork ? 1 : Parallel.cores)
    }

    /// `gemm` split into `parts` pieces (`pare bench threads` times 1 against all cores).
    static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, parts: Int
    ) {
        _ = singleThreaded
        if parts == 1 {
            gemmOnThisThread(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                             a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let alongN = n >= m
        let extent = alongN ? n : m
        Parallel.forEach(parts) { p in
            let lo = extent * p / parts, hi = extent * (p + 1) / parts
            guard lo < hi else { return }
            if alongN {
                // columns [lo, hi) of op(B) and C
                gemmOnThisThread(transA: transA, transB: transB, m: m, n: hi - lo, k: k, alpha: alpha,
                                 a: a, lda: lda, b: b + (transB ? lo * ldb : lo), ldb: ldb,
                                 beta: beta, c: c + lo, ldc: ldc)
            } else {
                // rows [lo, hi) of op(A) and C
                gemmOnThisThread(transA: transA, transB: transB, m: hi - lo, n: n, k: k, alpha: alpha,
                                 a: a + (transA ? lo : lo * lda), lda: lda, b: b, ldb: ldb,
                                 beta: beta, c: c + lo * ldc, ldc: ldc)
            }
        }
    }

    /// y [rows] = A [rows, cols] x [cols] (A row-major), split by rows across Pare's threads.
    public static func gemv(rows: Int, cols: Int, a: UnsafePointer<Float>, x: UnsafePointer<Float>,
                            y: UnsafeMutablePointer<Float>) {
        _ = singleThreaded
        let parts = rows * cols < threadFromWork ? 1 : Parallel.cores
        Parallel.forEach(parts) { p in
            let lo = rows * p / parts, hi = rows * (p + 1) / parts
            guard lo < hi else { return }
            ProductProfile.timed {
                cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(hi - lo), Int32(cols), 1, a + lo * cols, Int32(cols),
                            x, 1, 0, y + lo, 1)
            }
        }
    }

    /// One `cblas_sgemm` call on the calling thread.
    @inline(__always)
    static func gemmOnThisThread(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = singleThreaded
        ProductProfile.timed {
            cblas_sgemm(CblasRowMajor,
                        transA ? CblasTrans : CblasNoTrans,
                        transB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha,
                        a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
    }

    /// y = x W^T for a linear layer: x [tokens, in], W [out, in] -> y [tokens, out].
    public static func linear(_ x: Tensor, _ w: Tensor) -> Tensor {
        precondition(x.cols == w.cols, "linear: input has \(x.cols) features, weight expects \(w.cols)")
        // beta = 0: sgemm writes every value without reading it (an empty product is zeroed).
        var y = x.rows > 0 && w.rows > 0 && w.cols > 0 ? Tensor(overwritten: [x.rows, w.rows]) : Tensor(zeros: [x.rows, w.rows])
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

/// The vector routines Pare calls besides products, each on the calling thread.
extension BLAS {
    /// y[0..<n] += alpha * x[0..<n].
    static func axpy(_ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        _ = singleThreaded
        cblas_saxpy(Int32(n), alpha, x, 1, y, 1)
    }

    /// x[0..<n] *= alpha.
    static func scale(_ n: Int, _ alpha: Float, _ x: UnsafeMutablePointer<Float>) {
        _ = singleThreaded
        cblas_sscal(Int32(n), alpha, x, 1)
    }

    /// y = Aᵀ x for a row-major A [rows, cols]: x has rows floats, y cols.
    static func gemvTransposed(rows: Int, cols: Int, _ a: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        _ = singleThreaded
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(rows), Int32(cols), 1, a, Int32(cols), x, 1, 0, y, 1)
    }

    /// A += alpha x yᵀ for a row-major A [rows, cols] with row stride lda; x is read every
    /// incx floats, y contiguously.
    static func rankOneUpdate(rows: Int, cols: Int, alpha: Float, x: UnsafePointer<Float>, incx: Int,
                              y: UnsafePointer<Float>, a: UnsafeMutablePointer<Float>, lda: Int) {
        _ = singleThreaded
        cblas_sger(CblasRowMajor, Int32(rows), Int32(cols), alpha, x, Int32(incx), y, 1, a, Int32(lda))
    }
}

/// OpenBLAS's LAPACK routines Pare calls (SparseGPT's inverse Hessian), on the calling thread.
/// `a` is a symmetric n x n matrix, column-major (the same as row-major for a symmetric one);
/// `uplo` is "L" or "U", the triangle read and written. Both return LAPACK's info (0: success,
/// > 0: not positive definite).
extension BLAS {
    /// Cholesky factorisation in place: A = L Lᵀ ("L") or A = Uᵀ U ("U").
    static func choleskyFactor(_ uplo: Unicode.Scalar, n: Int, _ a: inout [Float]) -> Int32 {
        _ = singleThreaded
        var triangle = Int8(UInt8(ascii: uplo)), nn = Int32(n), lda = Int32(n), info: Int32 = 0
        spotrf_(&triangle, &nn, &a, &lda, &info)
        return info
    }

    /// A⁻¹ in place from its Cholesky factor (in the `uplo` triangle).
    static func choleskyInverse(_ uplo: Unicode.Scalar, n: Int, _ a: inout [Float]) -> Int32 {
        _ = singleThreaded
        var triangle = Int8(UInt8(ascii: uplo)), nn = Int32(n), lda = Int32(n), info: Int32 = 0
        spotri_(&triangle, &nn, &a, &lda, &info)
        return info
    }
}

extension BLAS {
    /// The kernel family OpenBLAS chose when it loaded (e.g. "Haswell", "SkylakeX").
    /// The threads OpenBLAS itself would use for a call (1 once `singleThreaded` has run).
    public static var openBLASThreads: Int { Int(openblas_get_num_threads()) }
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }
}

/// The threads a large dense product runs on (Pare's split over single-threaded OpenBLAS).
public var denseThreads: Int { Parallel.cores }

