/// Matmul FLOPs (2 m n k per product) of one forward pass, for throughput reports.
public enum ForwardFLOPs {
    /// Forward FLOPs over sequences of the given lengths, logits on every row.
    public static func count(config c: ModelConfig, lengths: [Int]) -> Double {
        let d = Double(c.dModel), hd = Double(c.headDim)
        let q = Double(c.nHeads) * hd, kv = Double(c.nKVHeads) * hd
        let perTokenPerBlock = 2 * (d * q + 2 * d * kv + q * d + 3 * d * Double(c.dFF))
        let tokens = Double(lengths.reduce(0, +))
        // q k^T and p v: 2 * n * n * hd each, per head.
        let attention = lengths.reduce(0.0) { $0 + 2 * 2 * Double($1) * Double($1) * hd * Double(c.nHeads) }
        return Double(c.nLayers) * (tokens * perTokenPerBlock + attention) + tokens * 2 * d * Double(c.vocabSize)
    }
}
