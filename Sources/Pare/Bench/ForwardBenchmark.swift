import Foundation

/// `pare bench forward`: the forward pass of a random LLaDA-shaped model against plain
/// `cblas_sgemm` on exactly the same matmul shapes, timed in the same run.
///
/// Both sides count the same FLOPs (2 m n k per matmul), so the ratio
/// forward GFLOP/s / sgemm GFLOP/s is the fraction of BLAS speed the full forward keeps
/// after norms, RoPE, softmax, SiLU and data movement. The forward runs as decoding runs it:
/// its linears and head on Pare's dense kernel (`KernelPlacement`, packed on AVX-512, so the
/// ratio can pass 1 there), its attention products on BLAS.
public struct ForwardBenchmark {
    public struct Shape: Codable, Sendable {
        public var dModel = 1024, nHeads = 16, nKVHeads = 16, dFF = 2816, nLayers = 4, tokens = 512, vocab = 4096
        /// Sequences of `tokens` tokens decoded together (a ragged batch of equal lengths).
        public var sequences = 1
        public init() {}
    }

    public struct Result: Codable, Sendable {
        public var forwardGflops: Double
        public var sgemmGflops: Double
        public var ratio: Double
        public var forwardSeconds: Double
        public var sgemmSeconds: Double
        public var gflopPerForward: Double
        public var shape: Shape
        public var threads: Int
        /// The dense kernel the linears ran on: "packed-avx512" or "blas".
        public var denseKernel: String
    }

    public var shape: Shape
    public var repeats: Int

    public init(shape: Shape, repeats: Int = 5) {
        self.shape = shape
        self.repeats = repeats
    }

    /// One matmul of the forward pass: C[m, n] = A[m, k] B[k, n], `count` times.
    struct GEMM { let m: Int, n: Int, k: Int, count: Int }

    /// Every matmul the forward pass issues, with its multiplicity.
    func gemms() -> [GEMM] {
        let s = shape, hd = s.dModel / s.nHeads, T = s.tokens, N = s.tokens * s.sequences
        let perBlock = [
            GEMM(m: N, n: s.nHeads * hd, k: s.dModel, count: 1),                // q
            GEMM(m: N, n: s.nKVHeads * hd, k: s.dModel, count: 2),              // k, v
            GEMM(m: T, n: T, k: hd, count: s.nHeads * s.sequences),             // q k^T per sequence and head
            GEMM(m: T, n: hd, k: T, count: s.nHeads * s.sequences),             // p v per sequence and head
            GEMM(m: N, n: s.dModel, k: s.nHeads * hd, count: 1),                // attn_out
            GEMM(m: N, n: s.dFF, k: s.dModel, count: 2),                        // ff_proj, up_proj
            GEMM(m: N, n: s.dModel, k: s.dFF, count: 1),                        // ff_out
        ]
        return (0..<s.nLayers).flatMap { _ in perBlock } + [GEMM(m: N, n: s.vocab, k: s.dModel, count: 1)]
    }

    public func run(progress: (String) -> Void = { _ in }) throws -> Result {
        let s = shape
        let config = ModelConfig(vocabSize: s.vocab, dModel: s.dModel, nLayers: s.nLayers, nHeads: s.nHeads,
                                 nKVHeads: s.nKVHeads, dFF: s.dFF, maxSeqLen: s.tokens,
                                 maskTokenID: 1, eosTokenID: 0)
        progress("building a random model: d_model \(s.dModel), \(s.nHeads) heads, d_ff \(s.dFF), \(s.nLayers) blocks")
        let random = LLaDAModel.random(config: config, seed: 1)
        let model = try PlacedModel(random, placement: KernelPlacement(nil, tokens: s.tokens * s.sequences))
        let denseKernel = PackedWeight.isFaster(tokens: s.tokens * s.sequences) ? "packed-\(SIMDLevel.active)" : "blas"
        var rng = SplitMix64(seed: 2)
        let batch = (0..<s.sequences).map { _ in (0..<s.tokens).map { _ in Int(rng.next() % UInt64(s.vocab)) } }

        // Buffers for the plain-sgemm side, large enough for every shape.
        let list = gemms()
        let maxA = list.map { $0.m * $0.k }.max()!, maxB = list.map { $0.k * $0.n }.max()!
        let maxC = list.map { $0.m * $0.n }.max()!
        let a = [Float](repeating: 0.01, count: maxA), b = [Float](repeating: 0.02, count: maxB)
        var c = [Float](repeating: 0, count: maxC)
        func sgemmPass() {
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                for g in list {
                    for _ in 0..<g.count {
                        BLAS.gemm(m: g.m, n: g.n, k: g.k, a: ap.baseAddress!, lda: g.k,
                                  b: bp.baseAddress!, ldb: g.n, c: cp.baseAddress!, ldc: g.n)
                    }
                }
            }}}
        }
        func time(_ body: () throws -> Void) rethrows -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }

        // Warm up both, then interleave them so machine noise hits both sides alike.
        _ = try model.logits(batch); sgemmPass()
        var fwd: [Double] = [], gemm: [Double] = []
        for r in 0..<repeats {
            fwd.append(try time { _ = try model.logits(batch) })
            gemm.append(time { sgemmPass() })
            progress("round \(r + 1)/\(repeats): forward \(String(format: "%.3f", fwd.last!)) s, sgemm \(String(format: "%.3f", gemm.last!)) s")
        }
        let flops = list.reduce(0.0) { $0 + 2 * Double($1.m) * Double($1.n) * Double($1.k) * Double($1.count) }
        let f = fwd.sorted()[fwd.count / 2], g = gemm.sorted()[gemm.count / 2]
        return Result(forwardGflops: flops / f / 1e9, sgemmGflops: flops / g / 1e9, ratio: g / f,
                      forwardSeconds: f, sgemmSeconds: g, gflopPerForward: flops / 1e9, shape: s,
                      threads: denseThreads, denseKernel: denseKernel)
    }
}
