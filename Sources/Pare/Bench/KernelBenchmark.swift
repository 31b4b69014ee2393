import Foundation

/// `pare bench kernels`: the sparse kernels against the best dense routine on the same shape,
/// timed in the same run: `cblas_sgemm` for T > 1 tokens, `cblas_sgemv` for T = 1.
///
/// For each weight shape [out, in] and sparsity it builds one random pruned weight, then times
/// Y [T, out] = X [T, in] W^T for every T. Speedup = dense time / sparse time; the break-even
/// is the lowest sparsity at which the sparse kernel is as fast as dense (interpolated between
/// grid points).
public struct KernelBenchmark {
    /// What a weight keeps: a share of it at random, or N of every M consecutive inputs.
    public enum Pattern: Codable, Equatable, Sendable, CustomStringConvertible {
        case unstructured(sparsity: Double)
        case nOfM(n: Int, m: Int)

        public var sparsity: Double {
            switch self {
            case .unstructured(let s): return s
            case .nOfM(let n, let m): return 1 - Double(n) / Double(m)
            }
        }
        public var description: String {
            switch self {
            case .unstructured(let s): return String(format: "%.0f%%", s * 100)
            case .nOfM(let n, let m): return "\(n):\(m)"
            }
        }
    }

    public struct Shape: Codable, Equatable, Sendable, CustomStringConvertible {
        public var out: Int, inputs: Int
        public init(out: Int, inputs: Int) { self.out = out; self.inputs = inputs }
        public var description: String { "\(out)x\(inputs)" }
    }

    public struct Cell: Codable, Sendable {
        public var shape: String
        public var tokens: Int
        public var pattern: String
        public var sparsity: Double        // measured share of zeros
        public var denseSeconds: Double
        public var sparseSeconds: Double
        public var speedup: Double
        public var denseRoutine: String    // "sgemm" or "sgemv"
        public var kernel: String          // the sparse variant that ran, e.g. "tile64-avx512"
        /// Against Pare's own dense kernel (the packed one, where it beats BLAS at this T and
        /// SIMD level; `--kernels dense` runs it): sparse speedup / (sgemm time / packed time),
        /// the second ratio timed once per shape and T in alternating rounds. nil where BLAS is
        /// Pare's dense kernel.
        public var speedupVsPareDense: Double?
    }

    public struct BreakEven: Codable, Sendable {
        public var shape: String
        public var tokens: Int
        /// Lowest sparsity with speedup >= 1; nil when dense stays faster over the whole grid.
        public var sparsity: Double?
    }

    public struct Result: Codable, Sendable {
        public var simd: String
        public var vectorFloats: Int
        public var threads: Int
        public var cells: [Cell]
        public var breakEven: [BreakEven]
    }

    public static let llada8BShapes = [Shape(out: 4096, inputs: 4096), Shape(out: 12288, inputs: 4096), Shape(out: 4096, inputs: 12288)]
    public static let defaultTokens = [1, 16, 64, 256, 512]
    public static let defaultSparsities = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    public static let defaultStructured = [Pattern.nOfM(n: 2, m: 4), .nOfM(n: 4, m: 8)]

    public var shapes = KernelBenchmark.llada8BShapes
    public var tokens = KernelBenchmark.defaultTokens
    public var patterns = KernelBenchmark.defaultSparsities.map { Pattern.unstructured(sparsity: $0) } + KernelBenchmark.defaultStructured
    public var level = SIMDLevel.active
    public var threads = Parallel.cores
    /// Each timing is the median of this many rounds.
    public var repeats = 3
    public var seed: UInt64 = 0

    public init() {}

    public func run(progress: (String) -> Void = { _ in }) -> Result {
        var cells = [Cell]()
        for shape in shapes {
            var rng = SplitMix64(seed: seed &+ UInt64(shape.out * 31 + shape.inputs))
            let dense = Tensor(shape: [shape.out, shape.inputs],
                               data: (0..<shape.out * shape.inputs).map { _ in Float(rng.uniform() * 2 - 1) })
            let inputs = Dictionary(uniqueKeysWithValues: tokens.map { t in
                (t, Tensor(shape: [t, shape.inputs], data: (0..<t * shape.inputs).map { _ in Float(rng.uniform() * 2 - 1) }))
            })
            // sgemm time / packed-kernel time per T, where the packed kernel is Pare's dense kernel.
            // Packed only when some T runs on the packed kernel (never on AVX2 or scalar).
            let packedTokens = tokens.filter { PackedWeight.isFaster(tokens: $0, level: level) }
            let packed = packedTokens.isEmpty ? nil : PackedWeight(dense, level: level)
            var packedGain: [Int: Double] = [:]
            for t in packedTokens {
                guard let packed else { break }
                let x = inputs[t]!
                var y = Tensor(zeros: [t, shape.out])
                let (blas, own) = Self.timeInterleaved(repeats: repeats, { Self.denseProduct(x, dense) },
                                                       { packed.apply(x, into: &y, accumulate: false) })
                packedGain[t] = blas / own
                progress(String(format: "%@ T=%d: Pare's packed dense kernel %.2fx sgemm", shape.description, t, blas / own))
            }
            for pattern in patterns {
                let w = BitmaskMatrix(dense: Self.prune(dense, pattern, rng: &rng))
                for t in tokens {
                    let x = inputs[t]!
                    let (denseTime, sparse) = Self.timeInterleaved(repeats: repeats,
                        { Self.denseProduct(x, dense) }, { _ = SparseKernels.linear(x, w, level: level, threads: threads) })
                    let cell = Cell(shape: shape.description, tokens: t, pattern: pattern.description, sparsity: w.sparsity,
                                    denseSeconds: denseTime, sparseSeconds: sparse, speedup: denseTime / sparse,
                                    denseRoutine: t == 1 ? "sgemv" : "sgemm", kernel: SparseKernels.variant(tokens: t, level: level),
                                    speedupVsPareDense: packedGain[t].map { denseTime / sparse / $0 })
                    cells.append(cell)
                    progress(String(format: "%@ T=%d %@: %.2fx (%@)", shape.description, t, pattern.description, cell.speedup, cell.kernel))
                }
            }
        }
        return Result(simd: level.rawValue, vectorFloats: level.width, threads: threads, cells: cells,
                      breakEven: Self.breakEvens(cells))
    }

    /// Per shape and T, the lowest sparsity at which the sparse kernel catches dense, linearly
    /// interpolated between the two unstructured grid points around speedup 1.
    static func breakEvens(_ cells: [Cell]) -> [BreakEven] {
        var out = [BreakEven]()
        var seen = Set<String>()
        for c in cells where seen.insert("\(c.shape)/\(c.tokens)").inserted {
            let curve = cells.filter { $0.shape == c.shape && $0.tokens == c.tokens && $0.pattern.hasSuffix("%") }
                .sorted { $0.sparsity < $1.sparsity }
            var found: Double?
            for (i, p) in curve.enumerated() where p.speedup >= 1 {
                if i == 0 { found = p.sparsity } else {
                    let q = curve[i - 1]
                    found = q.sparsity + (1 - q.speedup) / (p.speedup - q.speedup) * (p.sparsity - q.sparsity)
                }
                break
            }
            out.append(BreakEven(shape: c.shape, tokens: c.tokens, sparsity: found))
        }
        return out
    }

    /// The best dense routine for y = x W^T: sgemv for one token, sgemm otherwise.
    static func denseProduct(_ x: Tensor, _ w: Tensor) {
        if x.rows == 1 {
            var y = [Float](repeating: 0, count: w.rows)
            w.data.withUnsafeBufferPointer { wp in x.data.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                BLAS.gemv(rows: w.rows, cols: w.cols, a: wp.baseAddress!, x: xp.baseAddress!, y: yp.baseAddress!)
            }}}
        } else {
            _ = BLAS.linear(x, w)
        }
    }

    /// A copy of `w` with the pattern's weights set to zero: kept at random (unstructured), or
    /// N random inputs of every M (structured).
    static func prune(_ w: Tensor, _ pattern: Pattern, rng: inout SplitMix64) -> Tensor {
        var out = w
        switch pattern {
        case .unstructured(let s):
            out.data.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count where rng.uniform() < s { p[i] = 0 }
            }
        case .nOfM(let n, let m):
            out.data.withUnsafeMutableBufferPointer { p in
                var group = Array(0..<m)
                for g in stride(from: 0, to: p.count - m + 1, by: m) {
                    for i in 0..<m { let j = i + Int(rng.next() % UInt64(m - i)); group.swapAt(i, j) }
                    for i in group[n...] { p[g + i] = 0 }
                }
            }
        }
        return out
    }

    /// Median seconds per call of `a` and of `b`, timed in alternating rounds so both see the
    /// same machine (these machines are noisy: a neighbour's load shifts both alike). Each
    /// round is long enough (`roundSeconds`) to time well.
    static func timeInterleaved(repeats: Int, roundSeconds: Double = 0.02, _ a: () -> Void, _ b: () -> Void) -> (Double, Double) {
        func calibrate(_ body: () -> Void) -> Int {
            body()  // warm-up: caches, page faults, thread start
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            return max(1, Int(roundSeconds / max(1e-7, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)))
        }
        func round(_ calls: Int, _ body: () -> Void) -> Double {
            let s = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<calls { body() }
            return Double(DispatchTime.now().uptimeNanoseconds - s) / 1e9 / Double(calls)
        }
        let callsA = calibrate(a), callsB = calibrate(b)
        var ta = [Double](), tb = [Double]()
        for _ in 0..<max(1, repeats) {
            ta.append(round(callsA, a))
            tb.append(round(callsB, b))
        }
        return (ta.sorted()[ta.count / 2], tb.sorted()[tb.count / 2])
    }
}
