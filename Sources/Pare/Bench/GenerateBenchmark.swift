import Foundation

/// `pare bench generate`: times Pare's decode loop (the sampler of docs/algorithms.md §3 with
/// its forward passes) on a model and a prompt set.
///
/// Figures: generated tokens per second, sequence NFE per second, seconds per batched step
/// (one forward pass over a batch plus the sampler's work on its logits), and the share of
/// the CPU time spent in matrix products (OpenBLAS and Pare's dense and sparse kernels):
/// thread time inside them over the process's CPU time while decoding. Pare's threads never
/// spin, so CPU time is work.
public struct GenerateBenchmark {
    public struct Result: Sendable {
        /// Median wall time of one decode of every prompt.
        public var wallSeconds: Double
        /// Every timed round's wall time, in order.
        public var roundSeconds: [Double]
        /// Generated tokens per round: prompts x gen length.
        public var generatedTokens: Int
        /// Forward passes summed over sequences (the NFE of docs/algorithms.md §3).
        public var sequenceNFE: Int
        /// Batched steps: forward passes over a whole batch.
        public var batchedSteps: Int
        /// Thread time inside matrix products and process CPU time, both of the median round.
        public var productCPUSeconds: Double
        public var cpuSeconds: Double
        /// Minor page faults of the median round: fresh pages the process touched. Near zero
        /// when decoding steps reuse the memory freed by earlier steps (see Allocator).
        public var pageFaults: Int
        /// The decoded answers (identical in every round).
        public var generations: [Generation]
        /// OpenBLAS's own thread count after decoding: 1 unless a call reached OpenBLAS
        /// before `BLAS.singleThreaded` (its spinning threads then take Pare's cores).
        public var openBLASThreads: Int

        public var tokensPerSecond: Double { Double(generatedTokens) / wallSeconds }
        public var nfePerSecond: Double { Double(sequenceNFE) / wallSeconds }
        public var secondsPerStep: Double { wallSeconds / Double(max(batchedSteps, 1)) }
        public var productShare: Double { cpuSeconds > 0 ? min(1, productCPUSeconds / cpuSeconds) : 0 }
    }

    public var model: any ModelWeights
    public var prompts: [[Int]]
    public var sampling: SamplingOptions
    public var batchSize: Int
    public var repeats: Int
    /// Untimed decodes first (the first touches every weight and buffer once).
    public var warmups = 1

    public init(model: any ModelWeights, prompts: [[Int]], sampling: SamplingOptions, batchSize: Int, repeats: Int) {
        self.model = model
        self.prompts = prompts
        self.sampling = sampling
        self.batchSize = batchSize
        self.repeats = repeats
    }

    /// `warmups` untimed decodes, then `repeats` timed ones; the median round is reported.
    public func run(progress: (String) -> Void = { _ in }) throws -> Result {
        let sampler = try MaskedDiffusionSampler(model: model, options: sampling)
        func decodeAll() throws -> [Generation] {
            var out: [Generation] = []
            for start in stride(from: 0, to: prompts.count, by: batchSize) {
                out += try sampler.generate(Array(prompts[start..<min(start + batchSize, prompts.count)]))
            }
            return out
        }
        var reference: [Generation]?
        for _ in 0..<warmups { reference = try decodeAll() }
        var rounds: [(wall: Double, products: Double, cpu: Double, faults: Int)] = []
        ProductProfile.enabled.store(true, ordering: .relaxed)
        defer { ProductProfile.enabled.store(false, ordering: .relaxed) }
        for r in 0..<repeats {
            let products0 = ProductProfile.nanoseconds.load(ordering: .relaxed), cpu0 = processCPUNanoseconds()
            let faults0 = minorPageFaults()
            let t0 = monotonicNanoseconds()
            let generations = try decodeAll()
            let wall = Double(monotonicNanoseconds() - t0) / 1e9
            let products = Double(ProductProfile.nanoseconds.load(ordering: .relaxed) - products0) / 1e9
            let cpu = Double(processCPUNanoseconds() - cpu0) / 1e9
            // The sampler is deterministic: a round that decodes differently is a bug, not noise.
            if let reference, generations.map(\.tokens) != reference.map(\.tokens) {
                throw BenchmarkError.nondeterministic("round \(r + 1) decoded different tokens than the first decode")
            }
            reference = reference ?? generations
            rounds.append((wall, products, cpu, minorPageFaults() - faults0))
            progress(String(format: "round %d/%d: %.3f s", r + 1, repeats, wall))
        }
        let median = rounds.sorted { $0.wall < $1.wall }[rounds.count / 2]
        let decoded = reference ?? []
        // Each loop of the sampler is one batched forward pass; a batch runs until its slowest sequence is done.
        let steps = stride(from: 0, to: decoded.count, by: batchSize).reduce(0) { total, start in
            total + (decoded[start..<min(start + batchSize, decoded.count)].map(\.nfe).max() ?? 0)
        }
        return Result(wallSeconds: median.wall, roundSeconds: rounds.map(\.wall),
                      generatedTokens: prompts.count * sampling.genLength,
                      sequenceNFE: decoded.reduce(0) { $0 + $1.nfe }, batchedSteps: steps,
                      productCPUSeconds: median.products, cpuSeconds: median.cpu, pageFaults: median.faults,
                      generations: decoded, openBLASThreads: BLAS.openBLASThreads)
    }
}

/// Minor page faults of this process so far (getrusage).
func minorPageFaults() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_minflt
}

public enum BenchmarkError: Error, CustomStringConvertible {
    case nondeterministic(String)
    public var description: String {
        switch self { case .nondeterministic(let s): return "benchmark: \(s)" }
    }
}
