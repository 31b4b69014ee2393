/// The SwiGLU activation m = silu(g) * u, forward and backward, element-wise.
///
/// With s = sigmoid(g): silu(g) = g * s and silu'(g) = s * (1 + g * (1 - s)), so
///   du = dm * g * s
///   dg = dm * u * s * (1 + g * (1 - s))
enum SwiGLU {
    /// m = silu(g) * u [T, dFF] as a new tensor (training keeps g and u for the backward pass).
    static func forward(gate g: Tensor, up u: Tensor) -> Tensor {
        var m = g
        multiplyInPlace(&m, up: u)
        return m
    }

    /// g = silu(g) * u in place (inference, which keeps nothing).
    static func multiplyInPlace(_ g: inout Tensor, up u: Tensor) {
        precondition(g.shape == u.shape, "SwiGLU: gate and up shapes differ")
        g.data.withUnsafeMutableBufferPointer { mp in
            u.data.withUnsafeBufferPointer { up in
                guard let mb = mp.baseAddress, let ub = up.baseAddress else { return }
                Parallel.forEachChunk(mp.count, minChunk: 1 << 15) { r in
                    VectorMath.siluMultiply(mb + r.lowerBound, ub + r.lowerBound, r.count)
                }
            }
        }
    }

    /// Given dL/dm [T, dFF] and the pre-activations g, u [T, dFF], returns (dL/dg, dL/du).
    static func backward(_ dM: Tensor, gate g: Tensor, up u: Tensor) -> (dGate: Tensor, dUp: Tensor) {
        precondition(dM.shape == g.shape && g.shape == u.shape, "SwiGLU backward: shape mismatch")
        var dG = Tensor(zeros: g.shape), dU = Tensor(zeros: g.shape)
        dM.data.withUnsafeBufferPointer { mp in
        g.data.withUnsafeBufferPointer { gp in
        u.data.withUnsafeBufferPointer { up in
        dG.data.withUnsafeMutableBufferPointer { dgp in
        dU.data.withUnsafeMutableBufferPointer { dup in
            guard let mb = mp.baseAddress, let gb = gp.baseAddress, let ub = up.baseAddress,
                  let dgb = dgp.baseAddress, let dub = dup.baseAddress else { return }
            Parallel.forEachChunk(mp.count, minChunk: 1 << 15) { r in
                for i in r {
                    let gi = gb[i]
                    // Same exp as the forward's silu, so s matches the forward's sigmoid.
                    let s = 1 / (1 + VectorMath.exp(-gi))
                    dub[i] = mb[i] * gi * s
                    dgb[i] = mb[i] * ub[i] * s * (1 + gi * (1 - s))
                }
            }
        }}}}}
        return (dG, dU)
    }
}
