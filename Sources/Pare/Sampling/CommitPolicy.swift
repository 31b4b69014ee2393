/// Decides how many of the ordered eligible positions a step commits (docs/algorithms.md §3.6).
///
/// The sampler loop orders the masked positions of the current block by confidence
/// (descending, ties to the smaller position); every policy commits a prefix of that order.
public protocol CommitPolicy: Sendable {
    /// True when confidences are replaced by seeded U(0, 1) draws (the random sampler).
    var randomConfidence: Bool { get }
    /// How many leading positions to commit. `ordered` holds their confidences, descending.
    /// `step` is the 0-based step inside the block, `stepsPerBlock` = S / n_blocks,
    /// `maskedAtBlockStart` = M.
    func commitCount(ordered: [Float], step: Int, stepsPerBlock: Int, maskedAtBlockStart: Int) -> Int
    /// Whether the block is finished after `stepsTaken` steps with `masksLeft` masks in it.
    func blockFinished(stepsTaken: Int, stepsPerBlock: Int, masksLeft: Int) -> Bool
}

/// fixed and random: step j commits floor(M / s) + (j < M % s ? 1 : 0); exactly s steps per block.
public struct StepSchedulePolicy: CommitPolicy {
    public let randomConfidence: Bool
    public func commitCount(ordered: [Float], step: Int, stepsPerBlock s: Int, maskedAtBlockStart m: Int) -> Int {
        min(ordered.count, m / s + (step < m % s ? 1 : 0))
    }
    public func blockFinished(stepsTaken: Int, stepsPerBlock: Int, masksLeft: Int) -> Bool {
        stepsTaken >= stepsPerBlock
    }
}

/// Fast-dLLM threshold: the top-1 plus every eligible position with c >= tau.
public struct ThresholdPolicy: CommitPolicy {
    public let tau: Float
    public var randomConfidence: Bool { false }
    public func commitCount(ordered: [Float], step: Int, stepsPerBlock: Int, maskedAtBlockStart: Int) -> Int {
        confidentPrefix(ordered) { _ in tau }
    }
    public func blockFinished(stepsTaken: Int, stepsPerBlock: Int, masksLeft: Int) -> Bool { masksLeft == 0 }
}

/// Fast-dLLM factor: the longest prefix O_1..O_n with c(O_r) >= 1 - f / (r + 1) for 2 <= r <= n.
public struct FactorPolicy: CommitPolicy {
    public let factor: Float
    public var randomConfidence: Bool { false }
    public func commitCount(ordered: [Float], step: Int, stepsPerBlock: Int, maskedAtBlockStart: Int) -> Int {
        // ordered[n] is O_{n+1}, so its bound is 1 - f / (n + 2).
        confidentPrefix(ordered) { n in 1 - factor / Float(n + 2) }
    }
    public func blockFinished(stepsTaken: Int, stepsPerBlock: Int, masksLeft: Int) -> Bool { masksLeft == 0 }
}

/// The top-1 plus the longest following run with ordered[n] >= bound(n) (0 when nothing is eligible).
func confidentPrefix(_ ordered: [Float], bound: (Int) -> Float) -> Int {
    guard !ordered.isEmpty else { return 0 }
    var n = 1
    while n < ordered.count && ordered[n] >= bound(n) { n += 1 }
    return n
}
