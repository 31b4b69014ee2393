import Foundation

/// One decoded answer.
public struct Generation: Sendable {
    /// The L ids of the generation region.
    public var tokens: [Int]
    /// Forward passes spent on this sequence (NFE).
    public var nfe: Int
    /// The 1-based step (forward pass) that committed each of the L positions.
    public var commitStep: [Int] = []
    /// The step at which Prophet committed every remaining position, if it did.
    public var prophetStep: Int? = nil
    /// Tokens committed per forward pass, L / NFE.
    public var tokensPerStep: Double { Double(tokens.count) / Double(max(nfe, 1)) }
}

/// The masked-diffusion decoding loop of docs/algorithms.md §3, batched.
///
/// One loop serves every sampler: the commit policy decides how many ordered positions
/// a step commits, and Prophet (optional) may end decoding early. Each sequence keeps
/// its own seeded generator, so a prompt decodes identically alone or inside a batch.
public struct MaskedDiffusionSampler {
    public let model: any ModelWeights
    public let options: SamplingOptions
    public var prophet = ProphetEarlyCommit()

    public init(model: any ModelWeights, options: SamplingOptions) throws {
        if let p = options.problem() { throw SamplingError.badOption(p) }
        self.model = model
        self.options = options
    }

    /// Per-sequence decoding state.
    private struct State {
        var canvas: [Int]
        let promptLength: Int
        var block = 0
        var stepInBlock = 0
        var maskedAtBlockStart: Int
        var nfe = 0
        var commitStep: [Int]
        var prophetStep: Int? = nil
        var done = false
        var rng: SplitMix64
    }

    /// Decodes every prompt; results come back in input order.
    public func generate(_ prompts: [[Int]]) throws -> [Generation] {
        let cfg = model.config, L = options.genLength, B = options.resolvedBlockLength
        let S = options.resolvedSteps, nBlocks = options.blockCount
        let stepsPerBlock = max(1, S / nBlocks)
        let policy = options.commitPolicy, mask = cfg.maskTokenID, V = cfg.vocabSize
        // Checked before the canvases exist: a prompt plus an absurd --gen-length must be an
        // error, not an allocation of that many tokens.
        let longest = prompts.map(\.count).max() ?? 0
        if L > cfg.maxSeqLen || longest > cfg.maxSeqLen - L {
            throw ModelError.sequenceTooLong(longest.addingReportingOverflow(L).overflow ? Int.max : longest + L, max: cfg.maxSeqLen)
        }
        var states = prompts.map {
            State(canvas: $0 + [Int](repeating: mask, count: L), promptLength: $0.count,
                  maskedAtBlockStart: B, commitStep: [Int](repeating: 0, count: L), rng: SplitMix64(seed: options.seed))
        }
        try model.validate(states.map(\.canvas))

        // One [L, vocab] slab of logits per sequence, reused by every step.
        var logits = [Float](repeating: 0, count: max(1, states.count * L * V))
        while true {
            let active = states.indices.filter { !states[$0].done }
            if active.isEmpty { break }
            // One forward pass over every unfinished sequence. The output head, a large share of
            // a step (vocab x d_model per row), runs only on the answer rows the step reads; the
            // other rows of each [L, vocab] slab stay zero and are never read.
            let canvases = active.map { states[$0].canvas }
            let rows = active.map { readRows(states[$0], L: L, B: B) }
            // (A step that reads no row, possible when a block has more steps than masks, needs no
            // forward pass; it still counts as one.)
            let picked = rows.allSatisfy(\.isEmpty) ? Tensor(zeros: [0, V])
                : try model.logits(canvases, positions: zip(active, rows).map { s, r in r.map { states[s].promptLength + $0 } })
            // NaN logits would commit arbitrary tokens and end in empty answers with exit 0.
            if !picked.isFinite { throw ModelError.nonFiniteActivations(block: try model.firstNonFiniteBlock(canvases)) }
            logits.withUnsafeMutableBufferPointer { $0.baseAddress!.update(repeating: 0, count: active.count * L * V) }
            var next = 0
            for (slot, r) in rows.enumerated() {
                for i in r {
                    logits.replaceSubrange((slot * L + i) * V..<(slot * L + i + 1) * V, with: picked.data[next * V..<(next + 1) * V])
                    next += 1
                }
            }
            logits.withUnsafeBufferPointer { lp in
                for (slot, s) in active.enumerated() {
                    step(&states[s], logits: lp.baseAddress! + slot * L * V, policy: policy,
                         L: L, B: B, S: S, stepsPerBlock: stepsPerBlock, nBlocks: nBlocks)
                }
            }
        }
        return states.map {
            Generation(tokens: Array($0.canvas[$0.promptLength...]), nfe: $0.nfe, commitStep: $0.commitStep, prophetStep: $0.prophetStep)
        }
    }

    /// The answer positions whose logits a step of `st` reads, ascending: the masked positions
    /// it may commit (the current block's; with Prophet every block's, since an early stop
    /// commits them all) and Prophet's window, whose top-2 gaps it averages. The candidates of
    /// the other rows are computed from zeros and never read; temperature noise is still drawn
    /// for every row, so the tokens are those of a step over all L rows.
    private func readRows(_ st: State, L: Int, B: Int) -> [Int] {
        let mask = model.config.maskTokenID, P = st.promptLength
        let span = options.prophet ? 0..<L : (st.block * B)..<min((st.block + 1) * B, L)
        return (0..<L).filter { i in
            (span.contains(i) && st.canvas[P + i] == mask) || (options.prophet && i < prophet.window)
        }
    }

    /// Applies one step's commits to one sequence, given its [L, V] logits.
    private func step(_ st: inout State, logits: UnsafePointer<Float>, policy: any CommitPolicy,
                      L: Int, B: Int, S: Int, stepsPerBlock: Int, nBlocks: Int) {
        let mask = model.config.maskTokenID, P = st.promptLength
        let cand = Candidates(logits: logits, rows: L, vocab: model.config.vocabSize, maskID: mask,
                              temperature: options.temperature, rng: &st.rng)
        var confidence = cand.confidence
        if policy.randomConfidence {
            for i in 0..<L { confidence[i] = Float(st.rng.uniform()) }
        }
        st.nfe += 1

        if options.prophet && prophet.shouldCommitAll(gaps: cand.topGap, step: st.nfe, of: S) {
            for i in 0..<L where st.canvas[P + i] == mask { st.canvas[P + i] = cand.tokens[i]; st.commitStep[i] = st.nfe }
            st.prophetStep = st.nfe
            st.done = true
            return
        }

        // Masked positions of the current block, by confidence descending, ties to the smaller position.
        let blockRange = (st.block * B)..<((st.block + 1) * B)
        let eligible = blockRange.filter { st.canvas[P + $0] == mask }
            .sorted { confidence[$0] > confidence[$1] || (confidence[$0] == confidence[$1] && $0 < $1) }
        let n = policy.commitCount(ordered: eligible.map { confidence[$0] }, step: st.stepInBlock,
                                   stepsPerBlock: stepsPerBlock, maskedAtBlockStart: st.maskedAtBlockStart)
        for i in eligible.prefix(n) { st.canvas[P + i] = cand.tokens[i]; st.commitStep[i] = st.nfe }
        st.stepInBlock += 1

        let masksLeft = blockRange.reduce(0) { $0 + (st.canvas[P + $1] == mask ? 1 : 0) }
        if policy.blockFinished(stepsTaken: st.stepInBlock, stepsPerBlock: stepsPerBlock, masksLeft: masksLeft) {
            st.block += 1
            st.stepInBlock = 0
            if st.block >= nBlocks { st.done = true; return }
            let next = (st.block * B)..<((st.block + 1) * B)
            st.maskedAtBlockStart = next.reduce(0) { $0 + (st.canvas[P + $1] == mask ? 1 : 0) }
        }
    }
}

public enum SamplingError: Error, CustomStringConvertible {
    case badOption(String)
    public var description: String {
        switch self { case .badOption(let s): return s }
    }
}
