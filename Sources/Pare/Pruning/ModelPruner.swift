import Foundation

/// One pruned linear in the per-layer report.
public struct LayerPruningReport: Codable, Sendable {
    public var block: Int
    public var linear: String
    public var shape: [Int]
    /// Achieved fraction of zeros.
    public var sparsity: Double
    /// ||X (W' - W)^T||_F / ||X W^T||_F on the calibration inputs of this block.
    public var reconstructionError: Double
}

public struct PruningReport: Sendable {
    public var spec: PruningSpec
    public var layers: [LayerPruningReport]
    public var calibrationSource: String
    public var calibrationSamples: Int
    public var calibrationMaskRatio: Double
    public var seconds: Double

    public var meanReconstructionError: Double {
        layers.isEmpty ? 0 : layers.map(\.reconstructionError).reduce(0, +) / Double(layers.count)
    }

    /// The provenance entry recorded in the pruned file.
    public var provenanceJSON: String {
        let entry: [String: Any] = [
            "op": "prune", "method": spec.method.rawValue, "pattern": spec.pattern.description,
            "sparsity": spec.effectiveSparsity,
            "calibration": ["source": calibrationSource, "samples": calibrationSamples, "mask_ratio": calibrationMaskRatio],
        ]
        return Checkpoint.provenanceEntry(entry)
    }
}

/// Prunes the seven linears of every block, block by block, sharing one calibration pass
/// among all pruners (ALGORITHMS.md §4):
///
///   for block i: one pass through the still-dense block collects the statistics of its
///   seven linears; all seven are pruned; the pruned block is re-run to make the inputs of
///   block i+1 (so block i+1 is calibrated on the outputs of the pruned blocks 0..i).
///
/// Only one block's activations [calibration tokens, width] are alive at a time.
public struct ModelPruner {
    public var spec: PruningSpec
    public var calibration: CalibrationSet

    public init(spec: PruningSpec, calibration: CalibrationSet) {
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

    public func prune(_ model: inout LLaDAModel, progress: (String) -> Void = { _ in }) throws -> PruningReport {
        if let p = spec.problem(for: model.config) { throw PruningError.badSpec(p) }
        let start = Date()
        let sequences = calibration.sequences(maskID: model.config.maskTokenID)
        try model.validate(sequences)
        let layout = SequenceLayout(lengths: sequences.map(\.count))
        var x = model.embed(sequences)                                     // [tokens, d]
        var layers: [LayerPruningReport] = []
        let pruner = self.pruner

        for i in model.blocks.indices {
            var block = model.blocks[i]
            // 1. Statistics of every linear's input, from the dense block.
            let inputs = block.forwardCapturingInputs(x, config: model.config, rope: model.rope, layout: layout).inputs
            var stats: [LinearInputs.Site: LinearStatistics] = [:]
            for site in LinearInputs.Site.allCases {
                let tensor = inputs[site]
                var s = LinearStatistics(inFeatures: tensor.cols)
                for seq in 0..<layout.count { s.add(tensor, rows: layout.rows(of: seq)) }   // sample by sample
                stats[site] = s
            }
            // 2. Prune the seven linears.
            for name in LLaDABlock.linearNames {
                let original = block[linear: name]
                var w = original
                let s = stats[LinearInputs.site(of: name)]!
                try pruner.prune(&w, statistics: s, spec: spec)
                layers.append(LayerPruningReport(block: i, linear: name, shape: w.shape, sparsity: w.sparsity,
                                                 reconstructionError: s.reconstructionError(original: original, pruned: w)))
                block[linear: name] = w
            }
            model.blocks[i] = block
            // 3. The pruned block makes the next block's calibration inputs.
            x = block.forward(x, config: model.config, rope: model.rope, layout: layout)
            progress(String(format: "block %d/%d pruned, mean reconstruction error %.4f", i + 1, model.blocks.count,
                            layers.suffix(7).map(\.reconstructionError).reduce(0, +) / 7))
        }
        return PruningReport(spec: spec, layers: layers, calibrationSource: calibration.source,
                             calibrationSamples: calibration.samples.count, calibrationMaskRatio: calibration.maskRatio,
                             seconds: Date().timeIntervalSince(start))
    }
}
