import ArgumentParser
import Pare

/// The sampling options (README "Sampling"), shared by `generate` and `eval`.
struct SamplingArguments: ParsableArguments {
    @Option(help: "Tokens to generate (the generation region; default 12, eval --data: 12 or the longest answer + 1).") var genLength: Int?
    @Option(help: "Step budget S (default: gen length).") var steps: Int?
    @Option(help: "Semi-autoregressive block length (default: gen length).") var blockLength: Int?
    @Option(help: "Commit policy: fixed, random, threshold or factor.") var sampler: SamplerKind = .fixed
    @Option(help: "Confidence threshold tau of the threshold sampler.") var threshold = 0.9
    @Option(help: "Factor f of the factor sampler.") var factor = 1.0
    @Flag(help: "Prophet early commit: stop once the answer window's top-2 gap is large.") var prophet = false
    @Option(help: "Gumbel temperature for candidates (0 = argmax).") var temperature = 0.0
    @Option(help: "Seed for every random choice (sampling noise; eval: test samples and likelihood masks).") var seed: UInt64 = 0

    var options: SamplingOptions {
        var o = SamplingOptions()
        o.genLength = genLength ?? 12; o.steps = steps; o.blockLength = blockLength; o.sampler = sampler
        o.threshold = threshold; o.factor = factor; o.prophet = prophet
        o.temperature = temperature; o.seed = seed
        return o
    }

    func validate() throws {
        if let p = options.problem() { throw ValidationError(p) }
    }
}

extension SamplerKind: ExpressibleByArgument {}
