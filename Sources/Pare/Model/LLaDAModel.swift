/// A LLaDA model held in memory (docs/algorithms.md §1): embedding, a stack of blocks, final
/// norm, output head. Training and tests work on this; the forward pass is `ModelWeights`'.
public struct LLaDAModel: ModelWeights, Equatable {
    public var config: ModelConfig
    public var wte: Tensor          // model.transformer.wte.weight     [vocab, d]
    public var blocks: [LLaDABlock] // model.transformer.blocks.N.*
    public var lnF: Tensor          // model.transformer.ln_f.weight    [d]
    public var head: Linear         // model.transformer.ff_out.weight  [vocab, d] (not tied to wte)

    public init(config: ModelConfig, wte: Tensor, blocks: [LLaDABlock], lnF: Tensor, head: Linear) {
        self.config = config
        self.wte = wte; self.blocks = blocks; self.lnF = lnF; self.head = head
    }

    /// Builds the model from a validated checkpoint.
    public init(checkpoint: Checkpoint) throws {
        try self.init(config: checkpoint.config) { key in
            guard let t = checkpoint.tensors[key] else { throw ModelError.missingTensor(key) }
            return t
        }
    }

    /// Builds the model from tensors looked up by HF key.
    public init(config: ModelConfig, tensor: (String) throws -> Tensor) throws {
        try self.init(config: config, tensor: tensor, linear: { Linear(try tensor($0)) })
    }

    /// Builds the model from a file, each block linear as the file stores it (dense or sparse).
    public init(reader: CheckpointReader) throws {
        try self.init(config: reader.header.config, tensor: { try reader.tensor(named: $0) },
                      linear: { try reader.linear(named: $0) })
    }

    /// Builds the model from tensors and block linears looked up by HF key.
    public init(config: ModelConfig, tensor: (String) throws -> Tensor, linear: (String) throws -> Linear) throws {
        let blocks = try (0..<config.nLayers).map { i in try LLaDABlock(index: i, biased: config.hasQKVBias, tensor: tensor, linear: linear) }
        self.init(config: config, wte: try tensor(GlobalTensor.wte.key), blocks: blocks,
                  lnF: try tensor(GlobalTensor.lnF.key), head: Linear(try tensor(GlobalTensor.head.key)))
    }

    /// Reads every tensor of a model (resident or streamed) into memory.
    public init(_ weights: any ModelWeights) throws {
        if let resident = weights as? LLaDAModel { self = resident; return }
        let blocks = try (0..<weights.blockCount).map { try weights.block($0) }
        let vocab = 0..<weights.config.vocabSize
        self.init(config: weights.config, wte: try weights.rows(of: .wte, in: vocab),
                  blocks: blocks, lnF: try weights.finalNorm(), head: Linear(try weights.rows(of: .head, in: vocab)))
    }

    /// All tensors under their HF keys (blocks numbered 0..n-1), for writing a checkpoint.
    public var namedTensors: [String: Tensor] {
        var out = [GlobalTensor.wte.key: wte, GlobalTensor.lnF.key: lnF, GlobalTensor.head.key: head.weight]
        for (i, b) in blocks.enumerated() {
            for (key, t) in b.namedTensors(index: i) { out[key] = t }
        }
        return out
    }

    // MARK: ModelWeights

    public func embeddings(_ ids: [Int]) throws -> Tensor { wte.gatherRows(ids) }
    public func block(_ index: Int) throws -> LLaDABlock { blocks[index] }
    public func finalNorm() throws -> Tensor { lnF }
    public func outputHead() throws -> Linear { head }
    public func rows(of tensor: GlobalTensor, in range: Range<Int>) throws -> Tensor {
        switch tensor {
        case .wte: return wte.sliceRows(range)
        case .head: return head.rows(in: range)
        case .lnF: return lnF
        }
    }
}
