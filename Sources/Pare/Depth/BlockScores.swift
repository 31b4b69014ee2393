import Foundation

/// Which blocks matter least (docs/algorithms.md §5), scored on calibration data.
public enum DepthCriterion: String, CaseIterable, Codable, Sendable {
    /// ShortGPT: BI_i = 1 - mean over tokens of cos(h_in, h_out); drop the lowest.
    case blockInfluence = "block-influence"
    /// Gromov et al.: d(l, n) = arccos(cos(h_l, h_{l+n})) / pi over answer positions; drop the closest run.
    case angular
    /// Greedy: drop the block whose removal raises the calibration NLL least, repeatedly.
    case measured
}

/// Hidden states at every block boundary, and the similarity scores derived from them.
public struct DepthProbe {
    public let model: any ModelWeights
    public let sequences: [[Int]]
    public let layout: SequenceLayout
    /// Rows of answer positions in the packed batch (angular distance reads only these).
    public let answerRows: [Int]

    public init(model: any ModelWeights, calibration: CalibrationSet) throws {
        self.model = model
        sequences = calibration.sequences(maskID: model.config.maskTokenID)
        try model.validate(sequences)
        let layout = SequenceLayout(lengths: sequences.map(\.count))
        self.layout = layout
        var rows: [Int] = []
        for (s, sample) in calibration.samples.enumerated() {
            let offset = layout.offsets[s] + sample.prompt.count
            rows += (offset..<(offset + sample.answer.count))
        }
        answerRows = rows
    }

    /// cos(a_r, b_r) for the chosen rows of two [tokens, d] tensors.
    static func cosines(_ a: Tensor, _ b: Tensor, rows: [Int]) -> [Double] {
        let d = a.cols
        return a.data.withUnsafeBufferPointer { ap in
            b.data.withUnsafeBufferPointer { bp in
                rows.map { r in
                    var dot = 0.0, na = 0.0, nb = 0.0
                    for j in 0..<d {
                        let x = Double(ap[r * d + j]), y = Double(bp[r * d + j])
                        dot += x * y; na += x * x; nb += y * y
                    }
                    return na > 0 && nb > 0 ? dot / (na * nb).squareRoot() : 1
                }
            }
        }
    }

    /// Block influence of every block: 1 - mean cosine between its input and output, all tokens.
    /// One pass, holding one block's activations at a time.
    public func blockInfluence() throws -> [Double] {
        let ctx = model.context(layout)
        var x = try model.embed(sequences)
        let all = Array(0..<layout.totalTokens)
        return try (0..<model.blockCount).map { i in
            let y = try model.block(i).forward(x, ctx)
            if !y.isFinite { throw ModelError.nonFiniteActivations(block: i) }  // a NaN score would rank anywhere
            let c = Self.cosines(x, y, rows: all)
            x = y
            return 1 - c.reduce(0, +) / Double(max(1, c.count))
        }
    }

    /// d(l, n) for every start l (0...n_layers - n): mean over answer positions of arccos(cos) / pi.
    public func angularDistances(run n: Int) throws -> [Double] {
        // Answer-position hidden states at every boundary: [n_layers + 1][answer rows, d] (small).
        let ctx = model.context(layout)
        var x = try model.embed(sequences)
        var boundaries = [x.gatherRows(answerRows)]
        for i in 0..<model.blockCount {
            x = try model.block(i).forward(x, ctx)
            if !x.isFinite { throw ModelError.nonFiniteActivations(block: i) }
            boundaries.append(x.gatherRows(answerRows))
        }
        let rows = Array(0..<answerRows.count)
        return (0...(model.blockCount - n)).map { l in
            let c = Self.cosines(boundaries[l], boundaries[l + n], rows: rows)
            return c.map { Foundation.acos(min(1, max(-1, $0))) / .pi }.reduce(0, +) / Double(max(1, c.count))
        }
    }
}
