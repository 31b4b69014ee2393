/// The sampler family of docs/algorithms.md §3.
public enum SamplerKind: String, CaseIterable, Codable, Sendable {
    /// LLaDA low-confidence remasking: a fixed number of commits per step.
    case fixed
    /// As fixed, with confidences drawn from U(0, 1).
    case random
    /// Fast-dLLM: commit the top-1 and everything with confidence >= tau.
    case threshold
    /// Fast-dLLM: commit the longest prefix with c(O_r) >= 1 - f / (r + 1).
    case factor
}

/// Everything that decides how a generation is decoded (README "Sampling").
public struct SamplingOptions: Codable, Equatable, Sendable {
    public var genLength = 12
    /// Step budget S; nil means S = genLength.
    public var steps: Int? = nil
    /// Semi-autoregressive block length B; nil means one block of genLength.
    public var blockLength: Int? = nil
    public var sampler: SamplerKind = .fixed
    public var threshold: Double = 0.9
    public var factor: Double = 1.0
    public var prophet = false
    public var temperature: Double = 0
    public var seed: UInt64 = 0

    public init() {}

    public var resolvedSteps: Int { steps ?? genLength }
    public var resolvedBlockLength: Int { blockLength ?? genLength }
    public var blockCount: Int { genLength / resolvedBlockLength }

    /// One clear sentence naming the option that is out of range, or nil.
    public func problem() -> String? {
        let L = genLength, B = resolvedBlockLength, S = resolvedSteps
        // Bounded so that no length arithmetic (batch tokens, canvases) can overflow.
        if !(1...1_048_576).contains(L) { return "--gen-length must be in 1...1048576 (got \(L))" }
        if B < 1 { return "--block-length must be at least 1 (got \(B))" }
        if L % B != 0 { return "--gen-length \(L) is not a multiple of --block-length \(B)" }
        if S < 1 { return "--steps must be at least 1 (got \(S))" }
        if S > L { return "--steps \(S) exceeds --gen-length \(L): every step commits at least one token" }
        if (sampler == .fixed || sampler == .random) && S % (L / B) != 0 {
            return "--steps \(S) is not a multiple of the number of blocks \(L / B) (gen length \(L) / block length \(B))"
        }
        if !(threshold > 0 && threshold <= 1) { return "--threshold must be in (0, 1] (got \(threshold))" }
        if !(factor > 0 && factor.isFinite) { return "--factor must be a positive number (got \(factor))" }
        if !(temperature >= 0 && temperature.isFinite) { return "--temperature must be >= 0 (got \(temperature))" }
        return nil
    }

    /// The commit policy this configuration names.
    public var commitPolicy: any CommitPolicy {
        switch sampler {
        case .fixed: return StepSchedulePolicy(randomConfidence: false)
        case .random: return StepSchedulePolicy(randomConfidence: true)
        case .threshold: return ThresholdPolicy(tau: Float(threshold))
        case .factor: return FactorPolicy(factor: Float(factor))
        }
    }
}
