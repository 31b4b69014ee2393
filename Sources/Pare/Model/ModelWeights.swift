/// The weights of a LLaDA model as one forward pass reads them: resident in memory
/// (`LLaDAModel`) or streamed one block at a time from a file (`StreamedModel`).
///
/// The forward pass below is written once against this protocol, so a resident and a streamed
/// model run the same operations in the same order and give bit-identical results.
public protocol ModelWeights: Sendable {
    var config: ModelConfig { get }
    /// Token embeddings of the concatenated ids: [ids.count, d].
    func embeddings(_ ids: [Int]) throws -> Tensor
    /// Block `index` (0..<config.nLayers) with fp32 weights.
    func block(_ index: Int) throws -> LLaDABlock
    /// Final norm weight ln_f [d].
    func finalNorm() throws -> Tensor
    /// Output head [vocab, d].
    func outputHead() throws -> Linear
    /// Rows `range` of the embedding table or the output head, [range.count, d] (for copying a
    /// model out slab by slab).
    func rows(of tensor: GlobalTensor, in range: Range<Int>) throws -> Tensor
}

extension ModelWeights {
    public var blockCount: Int { config.nLayers }

    /// The per-batch context every op of the forward pass reads.
    public func context(_ layout: SequenceLayout) -> ForwardContext {
        ForwardContext(config: config, layout: layout)
    }

    /// Checks token ids and lengths before a forward pass.
    public func validate(_ sequences: [[Int]]) throws {
        for s in sequences {
            if s.count > config.maxSeqLen { throw ModelError.sequenceTooLong(s.count, max: config.maxSeqLen) }
            if let bad = s.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
                throw ModelError.tokenOutOfRange(bad, vocabSize: config.vocabSize)
            }
        }
    }

    /// Token embeddings of the packed batch: [tokens, d].
    public func embed(_ sequences: [[Int]]) throws -> Tensor {
        try embeddings(sequences.flatMap { $0 })
    }

    /// Hidden states after every block: [tokens, d]. Every forward pass starts here, so the ids
    /// and lengths are checked here: a bad batch is an error, never a trap.
    public func hidden(_ sequences: [[Int]], layout: SequenceLayout) throws -> Tensor {
        try validate(sequences)
        let ctx = context(layout)
        var x = try embed(sequences)
        for i in 0..<blockCount { x = try block(i).forward(x, ctx) }
        return x
    }

    /// Why a forward pass gave non-finite logits: the first block whose output holds a NaN or
    /// an infinity (nil when every block's output is finite). Runs the pass again, checking after
    /// each block; called only once non-finite logits have been seen, so the checks cost nothing
    /// in a healthy run.
    public func firstNonFiniteBlock(_ sequences: [[Int]]) throws -> Int? {
        let layout = SequenceLayout(lengths: sequences.map(\.count))
        let ctx = context(layout)
        var x = try embed(sequences)
        for i in 0..<blockCount {
            x = try block(i).forward(x, ctx)
            if !x.isFinite { return i }
        }
        return nil
    }

    /// Final norm and output head on the chosen rows of the hidden states: [rows, vocab], with no
    /// shift (`logits(hidden:layout:rows:)` applies Dream's).
    public func head(_ hidden: Tensor, rows: [Int]? = nil) throws -> Tensor {
        let x = rows.map { hidden.gatherRows($0) } ?? hidden
        let (n, _) = Norm.forward(x, weight: try finalNorm(), eps: Float(config.normEps))
        return try outputHead().apply(n)
    }

    /// Logits of a ragged batch. `outputRows[s]` picks positions of sequence s (all when nil);
    /// the result stacks the chosen rows sequence by sequence: [chosen rows, vocab].
    public func logits(_ sequences: [[Int]], outputRows: [Range<Int>]? = nil) throws -> Tensor {
        try logits(sequences, positions: outputRows?.map { Array($0) })
    }

    /// Logits of a ragged batch at chosen positions: `positions[s]` lists positions of sequence
    /// s (all when nil); the result stacks them sequence by sequence: [chosen rows, vocab].
    public func logits(_ sequences: [[Int]], positions: [[Int]]?) throws -> Tensor {
        let layout = SequenceLayout(lengths: sequences.map(\.count))
        let h = try hidden(sequences, layout: layout)
        guard let positions else { return try logits(hidden: h, layout: layout) }
        var rows: [Int] = []
        for (s, p) in positions.enumerated() { rows += p.map { layout.offsets[s] + $0 } }
        return try logits(hidden: h, layout: layout, rows: rows)
    }

    /// Logits of the packed rows `rows` (all when nil) from the hidden states of a batch:
    /// [rows, vocab]. The one place where a model with shifted logits (Dream) is shifted, so every
    /// sampler, estimator and probe sees position i predicted, as the model was trained.
    public func logits(hidden: Tensor, layout: SequenceLayout, rows: [Int]? = nil) throws -> Tensor {
        if !config.shiftsLogits, rows == nil { return try head(hidden) }
        return try head(hidden, rows: predictingRows(rows ?? Array(0..<layout.totalTokens), layout: layout))
    }

    /// The hidden-state rows the head reads for the logits of packed rows `rows`: the rows
    /// themselves, or for shifted logits (Dream) the row before each in its own sequence, a
    /// sequence's first row reading itself (docs/algorithms.md §1).
    public func predictingRows(_ rows: [Int], layout: SequenceLayout) -> [Int] {
        guard config.shiftsLogits else { return rows }
        return rows.map { layout.positions[$0] == 0 ? $0 : $0 - 1 }
    }

    /// Total parameter count from the config's tensor shapes.
    public var parameterCount: Int { config.parameterCount }
}

/// A model seen without some of its blocks: block i of the view is block `kept[i]` of the base.
/// Dropping blocks this way works the same on resident and streamed models.
public struct KeptBlocks: ModelWeights {
    public let base: any ModelWeights
    /// Indices into the base model, ascending.
    public let kept: [Int]
    public let config: ModelConfig

    public init(base: any ModelWeights, kept: [Int]) {
        self.base = base
        self.kept = kept
        var c = base.config
        c.nLayers = kept.count
        config = c
    }

    public func embeddings(_ ids: [Int]) throws -> Tensor { try base.embeddings(ids) }
    public func block(_ index: Int) throws -> LLaDABlock { try base.block(kept[index]) }
    public func finalNorm() throws -> Tensor { try base.finalNorm() }
    public func outputHead() throws -> Linear { try base.outputHead() }
    public func rows(of tensor: GlobalTensor, in range: Range<Int>) throws -> Tensor { try base.rows(of: tensor, in: range) }
}
