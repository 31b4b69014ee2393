/// Which kernels a model's block linears run on (`--kernels`).
///
/// - dense: the dense kernel (zeros multiplied like any other value): Pare's packed kernel
///   where it beats BLAS (`PackedWeight.isFaster`: AVX-512), else BLAS.
/// - sparse: Pare's sparse kernels on the bitmask form of every block linear.
/// - auto: per matrix, sparse when its sparsity reaches the measured break-even for its shape
///   and the tokens a forward pass feeds it (`BreakEvenTable`), dense otherwise.
///
/// The embedding and the output head are never pruned, so they stay dense.
public enum KernelChoice: String, CaseIterable, Sendable {
    case dense, sparse, auto
}

/// Places each linear on its kernel for one model and workload.
public struct KernelPlacement: Sendable {
    /// nil: as the file stores them (sparse encodings sparse, dense tensors on the dense kernel).
    public var choice: KernelChoice?
    /// Tokens one forward pass feeds each linear (sequences in a batch x their length).
    public var tokens: Int
    public var breakEven: BreakEvenTable?

    public init(_ choice: KernelChoice?, tokens: Int, breakEven: BreakEvenTable? = nil) {
        self.choice = choice
        self.tokens = max(1, tokens)
        self.breakEven = choice == .auto ? (breakEven ?? BreakEvenTable()) : breakEven
    }

    /// `linear` stored for the kernel it should run on.
    public func place(_ linear: Linear) -> Linear {
        switch choice {
        case nil: return linear.isSparse ? linear : linear.storedForDenseKernel(tokens: tokens)
        case .dense: return linear.storedForDenseKernel(tokens: tokens)
        case .sparse: return linear.storedSparse()
        case .auto:
            let threshold = breakEven!.breakEven(out: linear.outFeatures, inputs: linear.inFeatures, tokens: tokens)
            return linear.sparsity >= threshold && threshold < 1 ? linear.storedSparse() : linear.storedForDenseKernel(tokens: tokens)
        }
    }

    /// The block with each of its seven linears placed, concurrently (they convert
    /// independently: an 8 B model has 1 G weights to scan).
    public func place(_ block: LLaDABlock) -> LLaDABlock {
        let linears = BlockLinear.allCases
        var placed = [Linear?](repeating: nil, count: linears.count)
        placed.withUnsafeMutableBufferPointer { out in
            let slots = out
            Parallel.forEach(linears.count) { slots[$0] = place(block[linears[$0]]) }
        }
        var out = block
        for (i, l) in linears.enumerated() { out[l] = placed[i]! }
        return out
    }
}

/// A model whose block linears run where a `KernelPlacement` put them. Resident models are
/// placed once, here; streamed blocks are placed as they are read.
///
/// A resident model's placed blocks and head replace its own: the model kept here holds no
/// dense copy of them, so once the caller lets go of the model it placed (`LoadedModel.weights`
/// is replaced by `KernelArguments`), the weights are held once, not twice.
public final class PlacedModel: ModelWeights, @unchecked Sendable {
    /// A streamed model (its blocks placed as they are read), or a resident model whose blocks
    /// and head are already placed.
    private let base: any ModelWeights
    public let placement: KernelPlacement

    /// Places a resident model's blocks one at a time, each block's dense weights freed as soon
    /// as it is placed (when `model` held the only reference to them), so that placing peaks at
    /// the dense model plus one placed block, not the dense model plus all of them. `model` is
    /// left without blocks; the placed model holds them, with `model`'s embedding and final norm.
    public init(consuming model: inout LLaDAModel, placement: KernelPlacement) {
        self.placement = placement
        // The head is never pruned; it is the largest product when the vocabulary is large.
        // Its rows: the generation regions of a batch, a share of the tokens the blocks see.
        model.head = model.head.storedForDenseKernel(tokens: placement.tokens)
        var dense = model.blocks
        model.blocks = []
        var placed = [LLaDABlock]()
        placed.reserveCapacity(dense.count)
        // From the last block back, so that each dense block leaves `dense` (and memory) when placed.
        while let block = dense.popLast() { placed.append(placement.place(block)) }
        var resident = model
        resident.blocks = placed.reversed()
        base = resident
    }

    /// Places any model: a streamed one's blocks as they are read, a resident one's now (its
    /// tensors shared with `base`, so nothing is freed while the caller still holds `base`).
    public convenience init(_ base: any ModelWeights, placement: KernelPlacement) throws {
        if let streamed = base as? StreamedModel {
            self.init(streamed: streamed, placement: placement)
            return
        }
        var resident = try LLaDAModel(base)  // a resident model as it is (no tensor copied)
        self.init(consuming: &resident, placement: placement)
    }

    private init(streamed: StreamedModel, placement: KernelPlacement) {
        self.placement = placement
        base = streamed
    }

    public var config: ModelConfig { base.config }
    public func embeddings(_ ids: [Int]) throws -> Tensor { try base.embeddings(ids) }
    public func block(_ index: Int) throws -> LLaDABlock {
        base is StreamedModel ? placement.place(try base.block(index)) : try base.block(index)
    }
    public func finalNorm() throws -> Tensor { try base.finalNorm() }
    public func outputHead() throws -> Linear { try base.outputHead() }
    public func rows(of tensor: GlobalTensor, in range: Range<Int>) throws -> Tensor { try base.rows(of: tensor, in: range) }

    /// How many block linears run sparse, of how many (for resident models; streamed blocks
    /// are placed on reading, so they are counted by reading each block once).
    public func sparseCount() throws -> (sparse: Int, total: Int) {
        var sparse = 0, total = 0
        for i in 0..<blockCount {
            let b = try block(i)
            for l in BlockLinear.allCases { total += 1; if b[l].isSparse { sparse += 1 } }
        }
        return (sparse, total)
    }
}
