import Foundation

/// One pruned linear in the per-layer report.
public struct LayerPruningReport: Codable, Sendable {
    public var block: Int
    public var linear: String
    public var shape: [Int]
    /// Achieved fraction of zeros.
    public var sparsity: Double
    /// ||X (W' - W)^T||_F / ||X W^T||_F on the calibration inputs of this block; nil when the
    /// pruning ran without calibration (magnitude).
    public var reconstructionError: Double?
}

public struct PruningReport: Sendable {
    public var spec: PruningSpec
    public var layers: [LayerPruningReport]
    /// The calibration set's source, size and mask ratio; nil without calibration (magnitude).
    public var calibrationSource: String?
    public var calibrationSamples: Int?
    public var calibrationMaskRatio: Double?
    public var seconds: Double
    /// How the pruned block linears were stored in the written file.
    public var store: TensorEncoding = .dense

    /// nil when the errors were not measured (no calibration).
    public var meanReconstructionError: Double? {
        let errors = layers.compactMap(\.reconstructionError)
        guard errors.count == layers.count else { return nil }
        return layers.isEmpty ? 0 : errors.reduce(0, +) / Double(layers.count)
    }

    /// The provenance entry recorded in the pruned file.
    public var provenanceJSON: String {
        var entry: [String: Any] = [
            "op": "prune", "method": spec.method.rawValue, "pattern": spec.pattern.description,
            "sparsity": spec.effectiveSparsity,
        ]
        // Magnitude pruning without calibration records none.
        if let calibrationSource, let calibrationSamples, let calibrationMaskRatio {
            entry["calibration"] = ["source": calibrationSource, "samples": calibrationSamples, "mask_ratio": calibrationMaskRatio]
        }
        // Dense storage (the default) adds nothing, so such entries read as before.
        if store.isSparse { entry["store"] = store.storeName }
        return Checkpoint.provenanceEntry(entry)
    }
}

/// Prunes the seven linears of every block, block by block, sharing one calibration pass
/// among all pruners (docs/algorithms.md §4):
///
///   for block i: one pass through the still-dense block collects the statistics of its
///   seven linears; all seven are pruned; the pruned block is re-run to make the inputs of
///   block i+1 (so block i+1 is calibrated on the outputs of the pruned blocks 0..i).
///
/// Memory: one block's weights (dense and pruned), the hidden states of the calibration tokens
/// [tokens, d], and running statistics per linear input. The linears' inputs themselves are
/// made and folded into the statistics `samplesPerPass` samples at a time, never for the whole
/// set at once.
public struct ModelPruner {
    public var spec: PruningSpec
    /// nil: no calibration pass, which only magnitude pruning can do (its scores are the
    /// weights alone); the reconstruction errors are then not measured.
    public var calibration: CalibrationSet?
    /// Calibration samples run through a block together.
    public var samplesPerPass = 16

    public init(spec: PruningSpec, calibration: CalibrationSet?) {
        self.spec = spec
        self.calibration = calibration
    }

    var pruner: any LinearPruner {
        switch spec.method {
        case .magnitude: return MagnitudePruner()
        case .wanda: return WandaPruner()
        case .sparsegpt: return SparseGPTPruner()
        }
    }

    /// Prunes a resident model in place.
    public func prune(_ model: inout LLaDAModel, progress: (String) -> Void = { _ in }) throws -> PruningReport {
        var blocks = model.blocks
        let report = try prune(model, progress: progress) { blocks[$0] = $1 }
        model.blocks = blocks
        return report
    }

    /// Prunes an opened model and writes the result to `path` block by block: each block is
    /// written as soon as it is pruned, and the file appears under its name only when complete.
    /// Tensors keep the source file's storage precision; the pruned linears are stored in
    /// `store` (dense with zeros, or a sparse encoding); the provenance gains this run's entry.
    public func prune(_ source: LoadedModel, writingTo path: String, store: TensorEncoding = .dense,
                      progress: (String) -> Void = { _ in }) throws -> PruningReport {
        var report: PruningReport?
        try ModelFile.write(source.weights, tokenizer: source.header.tokenizer, to: path, dtype: ModelFile.dtypes(like: source.header),
                            linearEncoding: store,
                            blocks: { emit in
                                report = try prune(source.weights, progress: progress, emit: emit)
                                report?.store = store
                            },
                            provenance: { source.header.provenance + [report!.provenanceJSON] })
        return report!
    }

    /// Prunes any model (resident or streamed), handing each pruned block to `emit` in order.
    public func prune(_ model: any ModelWeights, progress: (String) -> Void = { _ in },
                      emit: (Int, LLaDABlock) throws -> Void) throws -> PruningReport {
        if let p = spec.problem(for: model.config) { throw PruningError.badSpec(p) }
        guard let calibration else { return try pruneWithoutCalibration(model, progress: progress, emit: emit) }
        let start = Date()
        let sequences = calibration.sequences(maskID: model.config.maskTokenID)
        try model.validate(sequences)
        let passes = CalibrationPasses(model: model, sequences: sequences, samplesPerPass: samplesPerPass)
        var x = try model.embed(sequences)                                 // [tokens, d]
        var layers: [LayerPruningReport] = []
        let pruner = self.pruner

        // Reconstruction errors come from the Gram matrix X^T X [in, in] when SparseGPT needs it
        // anyway or when there are more calibration tokens than inputs; otherwise from a second
        // pass over X, which costs tokens * in * out instead of in * in * out.
        let tokens = sequences.reduce(0) { $0 + $1.count }
        let needsGram = spec.method == .sparsegpt
        func errorFromGram(_ inFeatures: Int) -> Bool { needsGram || tokens >= inFeatures }

        for i in 0..<model.blockCount {
            let dense = try model.block(i)
            var block = dense
            // 1. Statistics of every linear's input, from the dense block.
            var stats = Dictionary(uniqueKeysWithValues: LinearSite.allCases.map { site -> (LinearSite, LinearStatistics) in
                let inFeatures = dense[site.linears[0]].inFeatures
                return (site, LinearStatistics(inFeatures: inFeatures, keepsGram: errorFromGram(inFeatures)))
            })
            passes.forEach(x) { slice, ctx in
                let inputs = dense.forward(slice, ctx, recording: .linearInputs).activations!
                for site in LinearSite.allCases {
                    for seq in 0..<ctx.layout.count { stats[site]!.add(inputs[site], rows: ctx.layout.rows(of: seq)) }
                }
            }
            // Finite weights can still overflow (weights of 1e30 load fine): scores from such
            // inputs would pick an arbitrary mask, so stop here and name the block.
            if !stats.values.allSatisfy(\.isFinite) { throw ModelError.nonFiniteActivations(block: i) }
            // 2. Prune the seven linears.
            var sparsity: [BlockLinear: Double] = [:], errors: [BlockLinear: Double] = [:]
            for linear in BlockLinear.allCases {
                let s = stats[linear.site]!
                let pruned = try pruner.prune(dense[linear].weight, statistics: s, spec: spec)
                sparsity[linear] = pruned.mask.sparsity
                if s.keepsGram { errors[linear] = s.reconstructionError(original: dense[linear].weight, pruned: pruned.weight) }
                block[linear] = Linear(pruned.weight)
            }
            stats = [:]
            // 3. The remaining errors, from the dense block's inputs once more.
            let viaInputs = BlockLinear.allCases.filter { errors[$0] == nil }
            if !viaInputs.isEmpty {
                var accumulated = Dictionary(uniqueKeysWithValues: viaInputs.map { ($0, ReconstructionError()) })
                passes.forEach(x) { slice, ctx in
                    let inputs = dense.forward(slice, ctx, recording: .linearInputs).activations!
                    for linear in viaInputs {
                        accumulated[linear]!.add(inputs[linear.site], original: dense[linear].weight, pruned: block[linear].weight)
                    }
                }
                for (linear, e) in accumulated { errors[linear] = e.value }
            }
            for linear in BlockLinear.allCases {
                layers.append(LayerPruningReport(block: i, linear: linear.name, shape: dense[linear].shape,
                                                 sparsity: sparsity[linear]!, reconstructionError: errors[linear]!))
            }
            // 4. The pruned block makes the next block's calibration inputs.
            x = passes.map(x) { slice, ctx in block.forward(slice, ctx) }
            if !x.isFinite { throw ModelError.nonFiniteActivations(block: i) }
            try emit(i, block)
            progress(String(format: "block %d/%d pruned, mean reconstruction error %.4f", i + 1, model.blockCount,
                            layers.suffix(7).compactMap(\.reconstructionError).reduce(0, +) / 7))
        }
        return PruningReport(spec: spec, layers: layers, calibrationSource: calibration.source,
                             calibrationSamples: calibration.samples.count, calibrationMaskRatio: calibration.maskRatio,
                             seconds: Date().timeIntervalSince(start))
    }

    /// Magnitude pruning from the weights alone, block by block: no calibration is read, no
    /// block is run, and no reconstruction error is measured.
    func pruneWithoutCalibration(_ model: any ModelWeights, progress: (String) -> Void,
                                 emit: (Int, LLaDABlock) throws -> Void) throws -> PruningReport {
        guard spec.method == .magnitude else {
            throw PruningError.badSpec("\(spec.method.rawValue) scores weights with calibration inputs, and none was given")
        }
        let start = Date()
        var layers: [LayerPruningReport] = []
        for i in 0..<model.blockCount {
            var block = try model.block(i)
            for linear in BlockLinear.allCases {
                let weight = block[linear].weight
                let pruned = try MagnitudePruner().prune(weight, statistics: LinearStatistics(inFeatures: weight.cols, keepsGram: false),
                                                         spec: spec)
                layers.append(LayerPruningReport(block: i, linear: linear.name, shape: block[linear].shape,
                                                 sparsity: pruned.mask.sparsity, reconstructionError: nil))
                block[linear] = Linear(pruned.weight)
            }
            try emit(i, block)
            progress("block \(i + 1)/\(model.blockCount) pruned")
        }
        return PruningReport(spec: spec, layers: layers, calibrationSource: nil, calibrationSamples: nil, calibrationMaskRatio: nil,
                             seconds: Date().timeIntervalSince(start))
    }
}

/// Runs a block over packed calibration hidden states a few samples at a time. Sequences are
/// independent (no padding, attention within a sequence), so any grouping gives the same rows.
struct CalibrationPasses {
    let config: ModelConfig
    /// Each pass: its sequences' lengths, and the rows they occupy in the packed batch.
    let passes: [(layout: SequenceLayout, rows: Range<Int>)]

    init(model: any ModelWeights, sequences: [[Int]], samplesPerPass: Int) {
        config = model.config
        var passes: [(SequenceLayout, Range<Int>)] = []
        var row = 0
        for start in stride(from: 0, to: sequences.count, by: max(1, samplesPerPass)) {
            let lengths = sequences[start..<min(start + max(1, samplesPerPass), sequences.count)].map(\.count)
            let n = lengths.reduce(0, +)
            passes.append((SequenceLayout(lengths: lengths), row..<(row + n)))
            row += n
        }
        self.passes = passes
    }

    /// Calls `body` with each pass's rows of x [tokens, d] and its context.
    func forEach(_ x: Tensor, _ body: (Tensor, ForwardContext) -> Void) {
        for (layout, rows) in passes {
            body(x.sliceRows(rows), ForwardContext(config: config, layout: layout))
        }
    }

    /// x [tokens, d] -> [tokens, d], each pass's rows replaced by `body`'s output for them.
    func map(_ x: Tensor, _ body: (Tensor, ForwardContext) -> Tensor) -> Tensor {
        var out = Tensor(zeros: x.shape)
        for (layout, rows) in passes {
            let y = body(x.sliceRows(rows), ForwardContext(config: config, layout: layout))
            out.setRows(startingAt: rows.lowerBound, y)
        }
        return out
    }
}
