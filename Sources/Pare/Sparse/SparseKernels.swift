import CSparseKernels
import Foundation

/// The instruction set a sparse kernel runs with, chosen at run time.
public enum SIMDLevel: String, CaseIterable, Comparable, Sendable, CustomStringConvertible {
    case scalar, avx2, avx512

    var code: Int32 {
        switch self { case .scalar: return Int32(PARE_ISA_SCALAR); case .avx2: return Int32(PARE_ISA_AVX2); case .avx512: return Int32(PARE_ISA_AVX512) }
    }
    /// Floats per vector.
    public var width: Int { switch self { case .scalar: return 1; case .avx2: return 8; case .avx512: return 16 } }
    public var description: String { rawValue }
    public static func < (a: SIMDLevel, b: SIMDLevel) -> Bool { a.width < b.width }

    /// The widest level this CPU runs.
    public static let best: SIMDLevel = {
        switch pare_sparse_best_isa() {
        case Int32(PARE_ISA_AVX512): return .avx512
        case Int32(PARE_ISA_AVX2): return .avx2
        default: return .scalar
        }
    }()

    /// The level kernels use: `best`, lowered by the environment variable PARE_SIMD
    /// (scalar|avx2|avx512) to test or measure a narrower build on a wider machine.
    public static let active: SIMDLevel = {
        guard let asked = ProcessInfo.processInfo.environment["PARE_SIMD"].flatMap(SIMDLevel.init(rawValue:)) else { return best }
        return min(asked, best)
    }()
}

/// Y [T, out] (+)= X [T, in] W^T with W a `BitmaskMatrix`: the sparse counterpart of
/// `BLAS.linear`, threaded over output rows.
public enum SparseKernels {
    /// The kernels' version (PARE_KERNELS_VERSION, bumped whenever a kernel changes speed):
    /// cached measurements of them are keyed by it.
    public static let version = Int(PARE_KERNELS_VERSION)

    /// The kernel a product of `tokens` tokens runs: "expand" for few tokens (memory-bound,
    /// reads the mask and values once per 4 tokens), "tile<N>" for N-token tiles of X^T.
    public static func variant(tokens: Int, level: SIMDLevel = .active) -> String {
        let plan = plan(tokens: tokens, level: level)
        if level == .scalar { return "scalar" }
        return plan.tile_tokens == 0 ? "expand-\(level)" : "tile\(plan.tile_tokens)-\(level)"
    }

    static func plan(tokens: Int, level: SIMDLevel, density: Double = 0.5) -> pare_spmm_plan {
        pare_spmm_make_plan(level.code, Int64(tokens), density)
    }

    /// y = x W^T as a new [T, out] tensor.
    public static func linear(_ x: Tensor, _ w: BitmaskMatrix, level: SIMDLevel = .active, threads: Int = Parallel.cores,
                              transposed: TransposedInput? = nil) -> Tensor {
        var y = Tensor(zeros: [x.rows, w.rows])
        linear(x, w, into: &y, accumulate: false, level: level, threads: threads, transposed: transposed)
        return y
    }

    /// y = x W^T, or y += x W^T when `accumulate`. x [T, in], y [T, out]. `transposed`: x
    /// already in the tile kernels' layout (`TransposedInput`), shared with other linears that
    /// read the same x; made here when nil and the product runs on tiles.
    public static func linear(_ x: Tensor, _ w: BitmaskMatrix, into y: inout Tensor, accumulate: Bool,
                              level: SIMDLevel = .active, threads: Int = Parallel.cores,
                              transposed: TransposedInput? = nil) {
        precondition(x.cols == w.cols && y.rows == x.rows && y.cols == w.rows,
                     "SparseKernels.linear: x \(x.shape), W [\(w.rows), \(w.cols)], y \(y.shape)")
        let tokens = x.rows
        guard tokens > 0, w.rows > 0 else { return }
        let plan = plan(tokens: tokens, level: level, density: 1 - w.sparsity)
        let tile = Int(plan.tile_tokens)
        precondition(transposed.map { $0.tokens == tokens && $0.cols == x.cols && $0.tile == tile } ?? true,
                     "SparseKernels.linear: the shared X^T was made for another input or tile width")
        let xt = transposed ?? TransposedInput(x, level: level, threads: threads)  // nil without tiles
        defer { withExtendedLifetime(xt) {} }  // the kernels below read its buffer
        let xtBase = xt?.buffer.base
        // One thread per share of the kept weights; small products stay on this thread.
        let work = w.keptCount * tokens
        let chunks = work < 1 << 18 ? 1 : max(1, min(threads, w.rows / 64))
        let bounds = rowBounds(w, chunks: chunks)
        w.withKernelView { shared in
            let view = shared
            x.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                let yBase = yp.baseAddress
                Parallel.forEach(chunks) { c in
                    var matrix = view  // each thread passes its own copy of the (read-only) view
                    let scratch = ScratchPool.shared.take(Int(pare_spmm_scratch_floats(plan, &matrix, Int64(bounds[c]), Int64(bounds[c + 1]))))
                    ProductProfile.timed {
                        pare_spmm_rows(level.code, &matrix, plan, xp.baseAddress, xtBase, yBase,
                                       accumulate ? 1 : 0, Int64(bounds[c]), Int64(bounds[c + 1]), scratch.base)
                    }
                    ScratchPool.shared.give(scratch)
                }
            }}
        }
    }

    /// Row boundaries that give each chunk about the same number of kept weights.
    static func rowBounds(_ w: BitmaskMatrix, chunks: Int) -> [Int] {
        var bounds = [0]
        let total = w.keptCount
        var r = 0
        for c in 1..<max(1, chunks) {
            let target = Int64(total * c / chunks)
            while r < w.rows, w.rowStart[r] < target { r += 1 }
            bounds.append(max(bounds.last!, r))
        }
        bounds.append(w.rows)
        return bounds
    }
}

/// X [T, in] transposed into the tile kernels' tiles: [ceil(T / tile) * tile, in], each tile
/// of `tile` tokens [in, tile] and zero past the last token. Made once per input, it can serve
/// every sparse linear that reads that input (q/k/v read the same normed rows, as do gate and up).
public final class TransposedInput {
    let tokens: Int, cols: Int, tile: Int
    let buffer: AlignedFloats

    /// nil when products of x's token count do not run on tiles (few tokens, or no SIMD).
    public init?(_ x: Tensor, level: SIMDLevel = .active, threads: Int = Parallel.cores) {
        tile = Int(SparseKernels.plan(tokens: x.rows, level: level).tile_tokens)  // the tile width depends on T and the level only
        guard tile > 0 else { return nil }
        tokens = x.rows; cols = x.cols
        // Cache-line aligned, as the kernels' scratch: each kept weight loads a whole row of it,
        // and a row that straddles lines costs twice the loads (50 ms instead of 33 ms at 50 %,
        // 4096 x 4096).
        buffer = ScratchPool.shared.take((tokens + tile - 1) / tile * tile * cols)
        // Shared by the threads in column ranges (multiples of 16) when large: the
        // transposition is bound by memory bandwidth, which each core has its own share of.
        let (tokens, cols, tile, base) = (tokens, cols, tile, buffer.base)
        let parts = tokens * cols < 1 << 20 ? 1 : max(1, min(threads, cols / 256))
        x.data.withUnsafeBufferPointer { xp in
            let xBase = xp.baseAddress
            Parallel.forEach(parts) { p in
                let lo = cols / 16 * p / parts * 16, hi = p == parts - 1 ? cols : cols / 16 * (p + 1) / parts * 16
                pare_transpose_tiles_columns(xBase, Int64(tokens), Int64(cols), Int32(tile), Int64(lo), Int64(hi), base)
            }
        }
    }

    deinit { ScratchPool.shared.give(buffer) }
}

/// A 64-byte aligned float buffer the kernels work in (uninitialised; freed explicitly, or
/// lent by `ScratchPool` and handed back).
struct AlignedFloats {
    let base: UnsafeMutablePointer<Float>?
    let count: Int
    init(count: Int) {
        self.count = count
        base = count > 0
            ? UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
            : nil
    }
    func free() { base.map { UnsafeMutableRawPointer($0).deallocate() } }
}

/// Kernel scratch kept from one product to the next. A tile product's scratch runs to
/// megabytes (a row block's column index), and a fresh allocation that large is fresh pages,
/// each faulted in and zeroed by the system on first touch: at 50 % sparsity, T = 256,
/// 4096 x 4096, that cost more than the index saved (1.42x against 1.49x over sgemm, AVX2).
final class ScratchPool: @unchecked Sendable {
    static let shared = ScratchPool()
    private let lock = NSLock()
    private var idle: [AlignedFloats] = []
    /// Buffers kept idle at most (the largest stay): enough for every thread's scratch.
    let keep = 2 * Parallel.cores + 2
    /// Buffers now idle.
    var idleCount: Int { lock.lock(); defer { lock.unlock() }; return idle.count }

    /// A buffer of at least `count` floats: the smallest idle one that fits, or a new one.
    func take(_ count: Int) -> AlignedFloats {
        guard count > 0 else { return AlignedFloats(count: 0) }
        lock.lock(); defer { lock.unlock() }
        let fitting = idle.indices.filter { idle[$0].count >= count }
        guard let best = fitting.min(by: { idle[$0].count < idle[$1].count }) else { return AlignedFloats(count: count) }
        return idle.remove(at: best)
    }

    /// Hands a buffer from `take` back for later products.
    func give(_ buffer: AlignedFloats) {
        guard buffer.base != nil else { return }
        lock.lock(); defer { lock.unlock() }
        idle.append(buffer)
        if idle.count > keep, let smallest = idle.indices.min(by: { idle[$0].count < idle[$1].count }) {
            idle.remove(at: smallest).free()
        }
    }
}
