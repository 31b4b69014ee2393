/// What the backward pass needs from a training forward pass: every block's activations
/// (recorded by the one block forward, `LLaDABlock.forward(_:_:recording: .forBackward)`)
/// and the final norm's input and output.
public struct ForwardCache: Sendable {
    public var tokens: [Int]              // the batch's ids, packed [T]
    public var layout: SequenceLayout
    public var blocks: [BlockActivations]
    public var hidden: Tensor             // output of the last block [T, d]
    public var finalNormed: Tensor        // ln_f(hidden) [T, d]
    public var finalInvRMS: [Float]       // [T]
}

extension LLaDAModel {
    /// Forward pass that keeps what the backward pass needs. Returns logits [tokens, vocab]
    /// for all rows: the same operations in the same order as `logits(_:)`, so the same values.
    public func forwardForTraining(_ sequences: [[Int]]) -> (logits: Tensor, cache: ForwardCache) {
        let layout = SequenceLayout(lengths: sequences.map(\.count))
        let ctx = context(layout)
        var x = wte.gatherRows(sequences.flatMap { $0 })                            // [T, d]
        var records: [BlockActivations] = []
        records.reserveCapacity(blocks.count)
        for block in blocks {
            let (y, record) = block.forward(x, ctx, recording: .forBackward)
            records.append(record!)
            x = y
        }
        let (n, inv) = Norm.forward(x, weight: lnF, eps: Float(config.normEps))    // [T, d]
        let logits = head.apply(n)                                                  // [T, vocab]
        let cache = ForwardCache(tokens: sequences.flatMap { $0 }, layout: layout, blocks: records,
                                 hidden: x, finalNormed: n, finalInvRMS: inv)
        return (logits, cache)
    }
}
