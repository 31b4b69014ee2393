import CSparseKernels

/// A dense linear weight packed once, at load, for Pare's dense kernel (gemm_packed.inc):
/// output features in panels of `width` (32 on AVX-512), each panel k-major, so a decoding
/// step's Y [T, out] = X [T, in] W^T keeps a 12 x 32 tile of Y in registers.
///
/// Why not BLAS: Debian's OpenBLAS runs AVX2 kernels on AVX-512 CPUs it does not recognise
/// (Zen 4/5, or any machine that sets OPENBLAS_CORETYPE=Haswell). On those, this kernel runs
/// the bundled model's products about 2x and LLaDA-sized ones about 1.4x faster than
/// `cblas_sgemm` (`pare bench generate`, bench/compare_pytorch.py). On AVX2-only CPUs it is
/// no faster than OpenBLAS, so `isFaster` keeps BLAS there.
public final class PackedWeight: @unchecked Sendable, Equatable {
    public let rows: Int, cols: Int
    /// Output features per panel, and the instruction set the packing is for.
    let width: Int
    let level: SIMDLevel
    /// [ceil(rows / width) * width * cols] floats, 64-byte aligned; zeros past `rows`.
    let packed: AlignedFloats

    /// Whether the packed kernel beats BLAS for products of `tokens` tokens at this SIMD level.
    /// Measured: on AVX-512 from the bundled model's shapes to LLaDA-8B's; on AVX2 it only
    /// matches OpenBLAS. Below 16 tokens (gemv-like work, bound by reading W) it is not used.
    public static func isFaster(tokens: Int, level: SIMDLevel = .active) -> Bool { level == .avx512 && tokens >= 16 }

    public init(_ w: Tensor, level: SIMDLevel = .active) {
        precondition(w.rank == 2, "PackedWeight: weight must be [out, in], got \(w.shape)")
        rows = w.rows; cols = w.cols
        self.level = level
        width = Int(pare_packed_width(level.code))
        packed = AlignedFloats(count: (rows + width - 1) / width * width * cols)
        w.data.withUnsafeBufferPointer { pare_pack_weights($0.baseAddress, Int64(rows), Int64(cols), Int32(width), packed.base) }
    }

    deinit { packed.free() }

    var panels: Int { (rows + width - 1) / width }

    /// The weight as a dense [out, in] tensor again.
    public var dense: Tensor { rows(in: 0..<rows) }

    /// Output rows `range` of the weight, unpacked: [range.count, in]. Only the panels holding
    /// them are read, so copying a large head out slab by slab costs one pass over it.
    public func rows(in range: Range<Int>) -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "PackedWeight.rows: \(range) outside 0..<\(rows)")
        var w = Tensor(zeros: [range.count, cols])
        guard let p = packed.base else { return w }
        let cols = cols
        w.data.withUnsafeMutableBufferPointer { out in
            for (i, r) in range.enumerated() {
                let panel = p + (r / width) * width * cols, lane = r % width
                for k in 0..<cols { out[i * cols + k] = panel[k * width + lane] }
            }
        }
        return w
    }

    /// Share of the weight that is zero (the panels' padding rows past `rows` not counted).
    public var sparsity: Double {
        guard rows > 0, cols > 0, let p = packed.base else { return 0 }
        var zeros = 0
        for i in 0..<(panels * width * cols) where p[i] == 0 { zeros += 1 }
        return Double(zeros - (panels * width - rows) * cols) / Double(rows * cols)
    }

    public static func == (a: PackedWeight, b: PackedWeight) -> Bool { a === b || a.dense == b.dense }

    /// y = x W^T, or y += x W^T when `accumulate`. x [T, in], y [T, out].
    public func apply(_ x: Tensor, into y: inout Tensor, accumulate: Bool) {
        apply(x, into: &y, accumulate: accumulate, parts: x.rows * rows * cols < BLAS.threadFromWork ? 1 : Parallel.cores)
    }

    /// `apply` split into `parts` pieces (`pare bench threads` times 1 against all cores).
    func apply(_ x: Tensor, into y: inout Tensor, accumulate: Bool, parts wanted: Int) {
        precondition(x.cols == cols && y.rows == x.rows && y.cols == rows,
                     "PackedWeight.apply: x \(x.shape), W [\(rows), \(cols)], y \(y.shape)")
        let tokens = x.rows
        guard tokens > 0, rows > 0 else { return }
        // Panels split across cores; products below BLAS.threadFromWork stay on one.
        let parts = max(1, min(wanted, panels))
        let (panels, code, base) = (self.panels, level.code, packed.base)
        let (rows, cols) = (self.rows, self.cols)
        x.data.withUnsafeBufferPointer { xp in
        y.data.withUnsafeMutableBufferPointer { yp in
            let (xb, yb) = (xp.baseAddress, yp.baseAddress)
            Parallel.forEach(parts) { p in
                let lo = panels * p / parts, hi = panels * (p + 1) / parts
                guard lo < hi else { return }
                // Each thread packs its blocks of X into its own scratch (gemm_packed.inc).
                let scratch = ScratchPool.shared.take(Int(pare_packed_gemm_scratch_floats(Int64(tokens), Int64(cols))))
                defer { ScratchPool.shared.give(scratch) }
                ProductProfile.timed {
                    pare_packed_gemm(code, base, Int64(rows), Int64(cols), xb, Int64(tokens), yb,
                                     accumulate ? 1 : 0, Int64(lo), Int64(hi), scratch.base)
                }
            }
        }}
    }
}
