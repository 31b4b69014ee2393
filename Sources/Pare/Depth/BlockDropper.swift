import Foundation

/// Removes whole blocks and renumbers the rest 0..n-1 (the provenance entry keeps the
/// indices the blocks had in the input model).
public enum BlockDropper {
    /// Parses "3,5-7" into sorted unique indices.
    public static func parseLayers(_ text: String) throws -> [Int] {
        var out = Set<Int>()
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let lo = Int(bounds[0].trimmingCharacters(in: .whitespaces)),
                  let hi = Int(bounds.last!.trimmingCharacters(in: .whitespaces)), lo <= hi else {
                throw DepthError.badLayers("--layers: cannot read \"\(part)\" (expected e.g. 3,5-7)")
            }
            // Checked before the range is expanded: "1-1000000000" must not build a billion indices.
            guard lo >= 0, hi < ModelConfig.maxLayers else {
                throw DepthError.badLayers("--layers: \"\(part)\" is outside 0...\(ModelConfig.maxLayers - 1)")
            }
            out.formUnion(lo...hi)
        }
        if out.isEmpty { throw DepthError.badLayers("--layers names no block") }
        return out.sorted()
    }

    /// The model without the given blocks: a view that reads the kept blocks of `model`
    /// (resident or streamed) and numbers them 0..n-1.
    public static func drop(_ layers: [Int], from model: any ModelWeights) throws -> KeptBlocks {
        let n = model.blockCount
        if let bad = layers.first(where: { !(0..<n).contains($0) }) {
            throw DepthError.badLayers("block \(bad) is out of range: the model has blocks 0...\(max(0, n - 1))")
        }
        if Set(layers).count >= n { throw DepthError.badLayers("cannot drop every block (the model has \(n))") }
        return KeptBlocks(base: model, kept: (0..<n).filter { !layers.contains($0) })
    }

    /// Writes `source` without the blocks `layers` to `path`, the kept blocks renumbered 0..n-1,
    /// each tensor in its source storage precision; `criterion` (if the blocks were chosen by
    /// one) goes into the provenance entry.
    public static func drop(_ layers: [Int], from source: LoadedModel, criterion: String?, writingTo path: String) throws {
        let smaller = try drop(layers, from: source.weights)
        let entry = provenanceJSON(dropped: layers, total: source.weights.blockCount, criterion: criterion, scores: nil)
        try ModelFile.write(smaller, tokenizer: source.header.tokenizer, to: path,
                            dtype: ModelFile.dtypes(like: source.header) { smaller.kept[$0] },
                            linearEncoding: ModelFile.linearEncoding(like: source.header),
                            provenance: { source.header.provenance + [entry] })
    }

    public static func provenanceJSON(dropped: [Int], total: Int, criterion: String?, scores: [Double]?) -> String {
        var entry: [String: Any] = ["op": "drop", "dropped": dropped,
                                    "kept": (0..<total).filter { !dropped.contains($0) }]
        if let criterion { entry["criterion"] = criterion }
        if let scores { entry["scores"] = scores }
        return Checkpoint.provenanceEntry(entry)
    }
}

/// Picks which blocks to drop by a criterion.
public struct DepthSelection {
    public var criterion: DepthCriterion
    public var calibration: CalibrationSet
    /// Seed of the Monte-Carlo masks of the measured criterion.
    public var seed: UInt64 = 0

    public init(criterion: DepthCriterion, calibration: CalibrationSet) {
        self.criterion = criterion
        self.calibration = calibration
    }

    /// One score per candidate (lower = dropped first): BI per block, d(l, count) per start l,
    /// or the calibration NLL per token after dropping each single block.
    public func scores(model: any ModelWeights, count: Int = 1) throws -> [Double] {
        switch criterion {
        case .blockInfluence: return try DepthProbe(model: model, calibration: calibration).blockInfluence()
        case .angular:
            if count < 1 || count > model.blockCount {
                throw DepthError.badLayers("a run of \(count) blocks does not fit a model of \(model.blockCount)")
            }
            return try DepthProbe(model: model, calibration: calibration).angularDistances(run: count)
        case .measured:
            // One pass through the whole model first, so an overflow is reported in this model's
            // block numbering rather than in a candidate's (which lacks one block).
            let sequences = calibration.sequences(maskID: model.config.maskTokenID)
            try model.validate(sequences)
            if let block = try model.firstNonFiniteBlock(sequences) { throw ModelError.nonFiniteActivations(block: block) }
            return try (0..<model.blockCount).map { try nll(BlockDropper.drop([$0], from: model)) }
        }
    }

    /// Mean Monte-Carlo NLL per answer token on the calibration samples.
    func nll(_ model: any ModelWeights) throws -> Double {
        let est = LikelihoodEstimator(draws: 4, seed: seed)
        let values = try est.negativeLogLikelihood(model: model, examples: calibration.samples)
        let tokens = calibration.samples.reduce(0) { $0 + $1.answer.count }
        return values.reduce(0, +) / Double(max(1, tokens))
    }

    /// The `count` blocks to drop, in the input model's numbering.
    public func select(count: Int, model: any ModelWeights, progress: (String) -> Void = { _ in }) throws -> [Int] {
        let n = model.blockCount
        if count < 1 || count >= n { throw DepthError.badLayers("--count must be in 1...\(n - 1) for a model of \(n) blocks") }
        switch criterion {
        case .blockInfluence:
            let bi = try scores(model: model)
            return Array(bi.indices.sorted { bi[$0] < bi[$1] || (bi[$0] == bi[$1] && $0 < $1) }.prefix(count)).sorted()
        case .angular:
            let d = try scores(model: model, count: count)
            let start = d.indices.min { d[$0] < d[$1] }!
            return Array(start..<(start + count))
        case .measured:
            var remaining = Array(0..<n), dropped: [Int] = []
            var current: any ModelWeights = model
            for round in 0..<count {
                let s = try scores(model: current)
                let best = s.indices.min { s[$0] < s[$1] }!
                dropped.append(remaining[best])
                progress(String(format: "round %d: dropping block %d (calibration NLL/token %.4f)", round + 1, remaining[best], s[best]))
                remaining.remove(at: best)
                current = try BlockDropper.drop([best], from: current)
            }
            return dropped.sorted()
        }
    }
}

public enum DepthError: Error, CustomStringConvertible {
    case badLayers(String)
    public var description: String {
        switch self { case .badLayers(let s): return s }
    }
}
