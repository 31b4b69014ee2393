/// The inputs each of a block's seven linears saw in one forward pass (calibration reads these).
public struct LinearInputs {
    public var attention: Tensor        // [T, d]       into q_proj, k_proj, v_proj
    public var attentionHeads: Tensor   // [T, nH*hd]   into attn_out
    public var mlp: Tensor              // [T, d]       into ff_proj, up_proj
    public var mlpHidden: Tensor        // [T, dFF]     into ff_out

    /// The four distinct inputs: q/k/v share one, ff_proj/up_proj share one.
    public enum Site: String, CaseIterable, Sendable { case attention, attentionHeads, mlp, mlpHidden }

    public static func site(of linear: String) -> Site {
        switch linear {
        case "q_proj", "k_proj", "v_proj": return .attention
        case "attn_out": return .attentionHeads
        case "ff_proj", "up_proj": return .mlp
        default: return .mlpHidden
        }
    }

    public subscript(site: Site) -> Tensor {
        switch site {
        case .attention: return attention
        case .attentionHeads: return attentionHeads
        case .mlp: return mlp
        case .mlpHidden: return mlpHidden
        }
    }

    /// The input matrix of the named linear.
    public func input(of linear: String) -> Tensor { self[Self.site(of: linear)] }
}

extension LLaDABlock {
    /// Runs the block over a ragged batch. x: [tokens, d] -> [tokens, d].
    public func forward(_ x: Tensor, config: ModelConfig, rope: RoPE, layout: SequenceLayout) -> Tensor {
        forwardCapturingInputs(x, config: config, rope: rope, layout: layout).output
    }

    /// The forward pass, also returning what each linear saw (no extra compute: the
    /// captured tensors are intermediates the pass makes anyway).
    public func forwardCapturingInputs(_ x: Tensor, config: ModelConfig, rope: RoPE,
                                       layout: SequenceLayout) -> (output: Tensor, inputs: LinearInputs) {
        let hd = config.headDim, eps = Float(config.normEps)
        // Attention half: h = x + attn_out(Attn(attn_norm(x)))
        let n1 = Norm.rmsNormRows(x, weight: attnNorm, eps: eps)            // [T, d]
        var q = BLAS.linear(n1, qProj)                                      // [T, nH*hd]
        var k = BLAS.linear(n1, kProj)                                      // [T, nKV*hd]
        let v = BLAS.linear(n1, vProj)                                      // [T, nKV*hd]
        rope.apply(&q, heads: config.nHeads, positions: layout.positions)
        rope.apply(&k, heads: config.nKVHeads, positions: layout.positions)
        let a = Attention.forward(q: q, k: k, v: v, layout: layout,
                                  nHeads: config.nHeads, nKVHeads: config.nKVHeads, headDim: hd) // [T, nH*hd]
        var h = x
        BLAS.linearAccumulate(a, attnOut, into: &h)                         // h += a attn_out^T
        // MLP half: y = h + ff_out(silu(ff_proj(n2)) * up_proj(n2))
        let n2 = Norm.rmsNormRows(h, weight: ffNorm, eps: eps)              // [T, d]
        var g = BLAS.linear(n2, ffProj)                                     // [T, dFF]
        let u = BLAS.linear(n2, upProj)                                     // [T, dFF]
        g.data.withUnsafeMutableBufferPointer { gp in
            u.data.withUnsafeBufferPointer { up in
                let gb = gp.baseAddress!, ub = up.baseAddress!
                Parallel.forEachChunk(gp.count, minChunk: 1 << 15) { r in
                    VectorMath.siluMultiply(gb + r.lowerBound, ub + r.lowerBound, r.count)
                }
            }
        }
        BLAS.linearAccumulate(g, ffOut, into: &h)                           // y = h + g ff_out^T
        return (h, LinearInputs(attention: n1, attentionHeads: a, mlp: n2, mlpHidden: g))
    }
}

/// Row-wise RMSNorm over a [tokens, d] tensor.
public enum Norm {
    public static func rmsNormRows(_ x: Tensor, weight: Tensor, eps: Float) -> Tensor {
        let d = x.cols
        var y = Tensor(zeros: x.shape)
        x.data.withUnsafeBufferPointer { xp in
            weight.data.withUnsafeBufferPointer { wp in
                y.data.withUnsafeMutableBufferPointer { yp in
                    let xb = xp.baseAddress!, wb = wp.baseAddress!, yb = yp.baseAddress!
                    Parallel.forEachChunk(x.rows, minChunk: 128) { rows in
                        for r in rows { VectorMath.rmsNorm(xb + r * d, wb, yb + r * d, d, eps: eps) }
                    }
                }
            }
        }
        return y
    }
}
