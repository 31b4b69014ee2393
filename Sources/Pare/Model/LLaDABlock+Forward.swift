extension LLaDABlock {
    /// Runs the block over a ragged batch. x: [tokens, d] -> [tokens, d].
    public func forward(_ x: Tensor, config: ModelConfig, rope: RoPE, layout: SequenceLayout) -> Tensor {
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
        return h
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
