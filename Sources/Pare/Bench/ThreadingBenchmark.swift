import Foundation

/// `pare bench threads`: from what size a dense product pays for splitting across cores.
///
/// For y = x W^T with W [width, width] and T tokens, T doubling from 1, times the product on
/// one thread against split over every core (BLAS, and Pare's packed kernel where it is the
/// dense kernel), in alternating rounds. The threshold is the smallest multiply-add count
/// from which the split is at least `margin` faster at that size and every larger one.
/// `BLAS.threadFromWork` holds the threshold chosen from what this measured (README "Performance").
public struct ThreadingBenchmark {
    public struct Row: Codable, Sendable {
        public var kernel: String           // "blas" or "packed-avx512"
        public var width: Int
        public var tokens: Int
        public var multiplyAdds: Int
        public var oneThreadSeconds: Double
        public var splitSeconds: Double
        public var speedup: Double { oneThreadSeconds / splitSeconds }
    }

    public struct Result: Codable, Sendable {
        public var cores: Int
        public var rows: [Row]
        /// Per kernel and width: the threshold in multiply-adds (nil: splitting never paid).
        public var thresholds: [String: Int?]
    }

    public var widths = [128, 512]
    public var maxTokens = 2048
    public var repeats = 5
    public var margin = 1.1

    public init() {}

    public func run(progress: (String) -> Void = { _ in }) -> Result {
        var rows: [Row] = []
        var rng = SplitMix64(seed: 7)
        let packedToo = PackedWeight.isFaster(tokens: 16)
        for width in widths {
            let w = Tensor(shape: [width, width], data: (0..<width * width).map { _ in Float(rng.uniform() - 0.5) })
            let packed = PackedWeight(w)
            var t = 1
            while t <= maxTokens {
                let x = Tensor(shape: [t, width], data: (0..<t * width).map { _ in Float(rng.uniform() - 0.5) })
                var y = Tensor(zeros: [t, width])
                func blas(_ parts: Int) {
                    x.data.withUnsafeBufferPointer { xp in w.data.withUnsafeBufferPointer { wp in y.data.withUnsafeMutableBufferPointer { yp in
                        BLAS.gemm(transB: true, m: t, n: width, k: width, a: xp.baseAddress!, lda: width,
                                  b: wp.baseAddress!, ldb: width, c: yp.baseAddress!, ldc: width, parts: parts)
                    }}}
                }
                var kernels: [(String, (Int) -> Void)] = [("blas", blas)]
                if packedToo && t >= 16 {
                    kernels.append(("packed-\(SIMDLevel.active)", { packed.apply(x, into: &y, accumulate: false, parts: $0) }))
                }
                for (name, body) in kernels {
                    let (one, split) = KernelBenchmark.timeInterleaved(repeats: repeats, roundSeconds: 0.01,
                                                                        { body(1) }, { body(Parallel.cores) })
                    rows.append(Row(kernel: name, width: width, tokens: t, multiplyAdds: t * width * width,
                                    oneThreadSeconds: one, splitSeconds: split))
                    progress(String(format: "%@ %dx%d T=%d: split %.2fx", name, width, width, t, one / split))
                }
                t *= 2
            }
        }
        var thresholds: [String: Int?] = [:]
        for key in Set(rows.map { "\($0.kernel) \($0.width)" }) {
            let curve = rows.filter { "\($0.kernel) \($0.width)" == key }.sorted { $0.multiplyAdds < $1.multiplyAdds }
            // The smallest size from which every larger size also gains the margin.
            let from = curve.indices.first { i in curve[i...].allSatisfy { $0.speedup >= margin } }
            thresholds[key] = from.map { curve[$0].multiplyAdds }
        }
        return Result(cores: Parallel.cores, rows: rows, thresholds: thresholds)
    }
}
