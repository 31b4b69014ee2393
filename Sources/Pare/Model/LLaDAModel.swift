/// The LLaDA model (ALGORITHMS.md §1): embedding, a stack of blocks, final norm, output head.
///
/// The forward pass is split into `embed`, one `LLaDABlock.forward` per block and `head`,
/// so that block-by-block passes (calibration, depth scoring) reuse the same pieces.
public struct LLaDAModel: Sendable {
    public var config: ModelConfig
    public var wte: Tensor     // [vocab, d]
    public var blocks: [LLaDABlock]
    public var lnF: Tensor     // [d]
    public var head: Tensor    // [vocab, d]  (model.transformer.ff_out, not tied to wte)
    public var rope: RoPE

    public init(config: ModelConfig, wte: Tensor, blocks: [LLaDABlock], lnF: Tensor, head: Tensor) {
        self.config = config
        self.wte = wte; self.blocks = blocks; self.lnF = lnF; self.head = head
        rope = RoPE(headDim: config.headDim, theta: config.ropeTheta, maxPositions: config.maxSeqLen)
    }

    /// Builds the model from a validated checkpoint.
    public init(checkpoint: Checkpoint) throws {
        let t = checkpoint.tensors
        func get(_ n: String) throws -> Tensor {
            guard let v = t["model.transformer." + n] else { throw ModelError.missingTensor("model.transformer." + n) }
            return v
        }
        let blocks = try (0..<checkpoint.config.nLayers).map { try LLaDABlock(index: $0, tensors: t) }
        self.init(config: checkpoint.config, wte: try get("wte.weight"), blocks: blocks,
                  lnF: try get("ln_f.weight"), head: try get("ff_out.weight"))
    }

    /// All tensors under their HF names (blocks numbered 0..n-1), for writing a checkpoint.
    public var namedTensors: [String: Tensor] {
        var out = ["model.transformer.wte.weight": wte, "model.transformer.ln_f.weight": lnF,
                   "model.transformer.ff_out.weight": head]
        for (i, b) in blocks.enumerated() { out.merge(b.namedTensors(index: i)) { a, _ in a } }
        return out
    }

    public var parameterCount: Int { namedTensors.values.reduce(0) { $0 + $1.count } }

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
    public func embed(_ sequences: [[Int]]) -> Tensor {
        wte.gatherRows(sequences.flatMap { $0 })
    }

    /// Final norm and output head on the chosen rows of the hidden states: [rows, vocab].
    public func head(_ hidden: Tensor, rows: [Int]? = nil) -> Tensor {
        let x = rows.map { hidden.gatherRows($0) } ?? hidden
        let n = Norm.rmsNormRows(x, weight: lnF, eps: Float(config.normEps))
        return BLAS.linear(n, head)
    }

    /// Hidden states after every block: [tokens, d].
    public func hidden(_ sequences: [[Int]], layout: SequenceLayout) -> Tensor {
        var x = embed(sequences)
        for block in blocks { x = block.forward(x, config: config, rope: rope, layout: layout) }
        return x
    }

    /// Logits of a ragged batch. `outputRows[s]` picks positions of sequence s (all when nil);
    /// the result stacks the chosen rows sequence by sequence: [chosen rows, vocab].
    public func logits(_ sequences: [[Int]], outputRows: [Range<Int>]? = nil) -> Tensor {
        let layout = SequenceLayout(lengths: sequences.map(\.count))
        let h = hidden(sequences, layout: layout)
        guard let outputRows else { return head(h) }
        var rows: [Int] = []
        for (s, r) in outputRows.enumerated() { rows += r.map { layout.offsets[s] + $0 } }
        return head(h, rows: rows)
    }
}
