import Foundation

/// A model whose blocks stay in the file and are read, one at a time, when a forward pass
/// reaches them: memory holds one block (widened to fp32 from float16 or bfloat16 storage;
/// sparse-encoded linears stay sparse),
/// the final norm, the embedding rows a batch uses and, once logits are asked for, the head.
///
/// Values are the ones a resident load gives (widening is exact), and the forward pass is
/// `ModelWeights`' shared one, so streamed and resident runs give bit-identical results.
public final class StreamedModel: ModelWeights, @unchecked Sendable {
    public let reader: CheckpointReader
    public let config: ModelConfig
    private let lnF: Tensor
    private var head: Linear?
    private let lock = NSLock()

    public init(reader: CheckpointReader) throws {
        self.reader = reader
        config = reader.header.config
        lnF = try reader.tensor(named: GlobalTensor.lnF.key)
    }

    public func embeddings(_ ids: [Int]) throws -> Tensor {
        try reader.rows(of: GlobalTensor.wte.key, ids)
    }

    public func block(_ index: Int) throws -> LLaDABlock {
        try LLaDABlock(index: index, reader: reader)
    }

    public func finalNorm() throws -> Tensor { lnF }

    public func rows(of tensor: GlobalTensor, in range: Range<Int>) throws -> Tensor {
        tensor == .lnF ? lnF : try reader.rows(of: tensor.key, in: range)
    }

    /// The head is read on first use and kept: every decoding step needs it, while pruning and
    /// block scoring never do.
    public func outputHead() throws -> Linear {
        lock.lock()
        defer { lock.unlock() }
        if let head { return head }
        let loaded = Linear(try reader.tensor(named: GlobalTensor.head.key))
        head = loaded
        return loaded
    }
}
