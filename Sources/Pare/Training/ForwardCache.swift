/// What the backward pass needs from a training forward pass.
///
/// Per block it keeps only values that are costly or impossible to recompute: the block
/// input and the mid-block residual (inputs of the two norms) with their reciprocal RMS,
/// the normed inputs (inputs of the linears), q/k after RoPE and v, the attention
/// probabilities, the attention output, and the gate/up pre-activations. SiLU(gate) * up
/// is recomputed in the backward pass (cheap, and saves a [tokens, d_ff] tensor per block).
public struct ForwardCache: Sendable {
    public struct Block: Sendable {
        public var input: Tensor          // x [T, d]
        public var attnNormed: Tensor     // attn_norm(x) [T, d]
        public var attnInvRMS: [Float]    // [T]
        public var q: Tensor              // after RoPE [T, nHeads * hd]
        public var k: Tensor              // after RoPE [T, nKVHeads * hd]
        public var v: Tensor              // [T, nKVHeads * hd]
        /// Each (sequence, head) softmax matrix [len, len], sequence-major then head-major,
        /// as `Attention.forward(probabilities:)` records it.
        public var probabilities: [Float]
        public var attention: Tensor      // concatenated head outputs [T, nHeads * hd]
        public var mid: Tensor            // h = x + attn_out(attention) [T, d]
        public var ffNormed: Tensor       // ff_norm(h) [T, d]
        public var ffInvRMS: [Float]      // [T]
        public var gate: Tensor           // ff_proj pre-activation [T, dFF]
        public var up: Tensor             // up_proj output [T, dFF]
    }

    public var tokens: [Int]              // the batch's ids, packed [T]
    public var layout: SequenceLayout
    public var blocks: [Block]
    public var hidden: Tensor             // output of the last block [T, d]
    public var finalNormed: Tensor        // ln_f(hidden) [T, d]
    public var finalInvRMS: [Float]       // [T]
}

extension LLaDAModel {
    /// Forward pass that keeps what the backward pass needs. Returns logits [tokens, vocab]
    /// for all rows. Runs the same operations in the same order as `logits(_:)`, so the
    /// logits are the same values.
    public func forwardForTraining(_ sequences: [[Int]]) -> (logits: Tensor, cache: ForwardCache) {
        let layout = SequenceLayout(lengths: sequences.map(\.count))
        var x = embed(sequences)                                                    // [T, d]
        var blockCaches: [ForwardCache.Block] = []
        blockCaches.reserveCapacity(blocks.count)
        for block in blocks {
            let (y, c) = block.forwardForTraining(x, config: config, rope: rope, layout: layout)
            blockCaches.append(c)
            x = y
        }
        let (n, inv) = Norm.rmsNormRowsKeepingScale(x, weight: lnF, eps: Float(config.normEps)) // [T, d]
        let logits = BLAS.linear(n, head)                                           // [T, vocab]
        let cache = ForwardCache(tokens: sequences.flatMap { $0 }, layout: layout, blocks: blockCaches,
                                 hidden: x, finalNormed: n, finalInvRMS: inv)
        return (logits, cache)
    }
}

extension LLaDABlock {
    /// `forward` (LLaDABlock+Forward.swift) step for step, keeping the intermediates.
    /// x: [T, d] -> ([T, d], cache).
    func forwardForTraining(_ x: Tensor, config: ModelConfig, rope: RoPE,
                            layout: SequenceLayout) -> (Tensor, ForwardCache.Block) {
        let hd = config.headDim, eps = Float(config.normEps)
        // Attention half: h = x + attn_out(Attn(attn_norm(x)))
        let (n1, inv1) = Norm.rmsNormRowsKeepingScale(x, weight: attnNorm, eps: eps) // [T, d]
        var q = BLAS.linear(n1, qProj)                                              // [T, nH*hd]
        var k = BLAS.linear(n1, kProj)                                              // [T, nKV*hd]
        let v = BLAS.linear(n1, vProj)                                              // [T, nKV*hd]
        rope.apply(&q, heads: config.nHeads, positions: layout.positions)
        rope.apply(&k, heads: config.nKVHeads, positions: layout.positions)
        var probabilities: [Float] = []
        let a = Attention.forward(q: q, k: k, v: v, layout: layout,
                                  nHeads: config.nHeads, nKVHeads: config.nKVHeads, headDim: hd,
                                  probabilities: &probabilities)                    // [T, nH*hd]
        var h = x
        BLAS.linearAccumulate(a, attnOut, into: &h)                                 // h += a attn_out^T
        // MLP half: y = h + ff_out(silu(ff_proj(n2)) * up_proj(n2))
        let (n2, inv2) = Norm.rmsNormRowsKeepingScale(h, weight: ffNorm, eps: eps)  // [T, d]
        let g = BLAS.linear(n2, ffProj)                                             // [T, dFF]
        let u = BLAS.linear(n2, upProj)                                             // [T, dFF]
        let m = SwiGLU.forward(gate: g, up: u)                                      // [T, dFF]
        var y = h
        BLAS.linearAccumulate(m, ffOut, into: &y)                                   // y = h + m ff_out^T
        let cache = ForwardCache.Block(input: x, attnNormed: n1, attnInvRMS: inv1, q: q, k: k, v: v,
                                       probabilities: probabilities, attention: a, mid: h,
                                       ffNormed: n2, ffInvRMS: inv2, gate: g, up: u)
        return (y, cache)
    }
}
