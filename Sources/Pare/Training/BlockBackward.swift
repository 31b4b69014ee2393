/// Backward pass of one LLaDA block, the forward run in reverse:
///
///   h = x + attn_out(Attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1))),  n1 = attn_norm(x)
///   y = h + ff_out(silu(ff_proj(n2)) * up_proj(n2)),                          n2 = ff_norm(h)
///
/// Each residual passes its gradient straight through and the branch adds onto it.
extension LLaDABlock {
    /// dY: dL/dy [T, d]. Returns dL/dx [T, d] and the block's parameter gradients
    /// (a `LLaDABlock` whose every tensor is the gradient of the same-named weight).
    func backward(_ dY: Tensor, cache c: ForwardCache.Block, config: ModelConfig, rope: RoPE,
                  layout: SequenceLayout) -> (dX: Tensor, grads: LLaDABlock) {
        // MLP half. dh starts as the skip path's copy of dy.
        var dH = dY                                                                 // [T, d]
        let m = SwiGLU.forward(gate: c.gate, up: c.up)                              // [T, dFF], recomputed
        let dFfOut = LinearBackward.weightGradient(dY, input: m)                    // [d, dFF]
        let dM = LinearBackward.inputGradient(dY, weight: ffOut)                    // [T, dFF]
        let (dGate, dUp) = SwiGLU.backward(dM, gate: c.gate, up: c.up)              // [T, dFF] each
        let dFfProj = LinearBackward.weightGradient(dGate, input: c.ffNormed)       // [dFF, d]
        let dUpProj = LinearBackward.weightGradient(dUp, input: c.ffNormed)         // [dFF, d]
        var dN2 = LinearBackward.inputGradient(dGate, weight: ffProj)               // [T, d]
        LinearBackward.inputGradient(dUp, weight: upProj, into: &dN2, accumulate: true)
        let dFfNorm = Norm.rmsNormBackward(dN2, x: c.mid, weight: ffNorm, invRMS: c.ffInvRMS,
                                           accumulatingInto: &dH)                   // [d]

        // Attention half. dx starts as the skip path's copy of dh.
        var dX = dH                                                                 // [T, d]
        let dAttnOut = LinearBackward.weightGradient(dH, input: c.attention)        // [d, nH*hd]
        let dA = LinearBackward.inputGradient(dH, weight: attnOut)                  // [T, nH*hd]
        var (dQ, dK, dV) = Attention.backward(dOut: dA, q: c.q, k: c.k, v: c.v,
                                              probabilities: c.probabilities, layout: layout,
                                              nHeads: config.nHeads, nKVHeads: config.nKVHeads,
                                              headDim: config.headDim)
        // RoPE is a rotation, so its backward is the rotation by -angle.
        rope.apply(&dQ, heads: config.nHeads, positions: layout.positions, inverse: true)
        rope.apply(&dK, heads: config.nKVHeads, positions: layout.positions, inverse: true)
        let dQProj = LinearBackward.weightGradient(dQ, input: c.attnNormed)         // [nH*hd, d]
        let dKProj = LinearBackward.weightGradient(dK, input: c.attnNormed)         // [nKV*hd, d]
        let dVProj = LinearBackward.weightGradient(dV, input: c.attnNormed)         // [nKV*hd, d]
        var dN1 = LinearBackward.inputGradient(dQ, weight: qProj)                   // [T, d]
        LinearBackward.inputGradient(dK, weight: kProj, into: &dN1, accumulate: true)
        LinearBackward.inputGradient(dV, weight: vProj, into: &dN1, accumulate: true)
        let dAttnNorm = Norm.rmsNormBackward(dN1, x: c.input, weight: attnNorm, invRMS: c.attnInvRMS,
                                             accumulatingInto: &dX)                 // [d]

        let grads = LLaDABlock(attnNorm: dAttnNorm, qProj: dQProj, kProj: dKProj, vProj: dVProj,
                               attnOut: dAttnOut, ffNorm: dFfNorm, ffProj: dFfProj, upProj: dUpProj,
                               ffOut: dFfOut)
        return (dX, grads)
    }
}
