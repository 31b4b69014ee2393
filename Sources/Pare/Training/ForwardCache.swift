/// What the backward pass needs from a training forward pass: every block's activations
/// (recorded by the one block forward, `LLaDABlock.forward(_:_:recording: .forBackward)`)
/// and the final norm's input and output.
public struct ForwardCache: Sendable {
    public var tokens: [Int]              // the batch's ids, packed [T]
    public var layout: SequenceLayout
    public var blocks: [BlockActivations]
    public var hidden: Tensor             // the final norm's input [T, d]: the last block's output,
                                          // for Dream its rows shifted (`predicting`)
    public var finalNormed: Tensor        // ln_f(hidden) [T, d]
    public var finalInvRMS: [Float]       // [T]
    /// Dream: row r of `hidden` is row predicting[r] of the last block's output (the shift of
    /// docs/algorithms.md §1); nil when logits are not shifted.
    public var predicting: [Int]? = nil
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
        // Dream: position i is predicted from the last block's row i - 1 (`logits(hidden:...)`).
        let predicting = config.shiftsLogits ? predictingRows(Array(0..<layout.totalTokens), layout: layout) : nil
        if let predicting { x = x.gatherRows(predicting) }
        let (n, inv) = Norm.forward(x, weight: lnF, eps: Float(config.normEps))    // [T, d]
        let logits = head.apply(n)                                                  // [T, vocab]
        let cache = ForwardCache(tokens: sequences.flatMap { $0 }, layout: layout, blocks: records,
                                 hidden: x, finalNormed: n, finalInvRMS: inv, predicting: predicting)
        return (logits, cache)
    }
}
