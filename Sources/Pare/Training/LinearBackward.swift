/// Backward of a bias-free linear layer y = x W^T (x [T, in], W [out, in], y [T, out]):
///   dX = dY W      [T, in]
///   dW = dY^T X    [out, in]
/// both as one `BLAS.gemm` each.
enum LinearBackward {
    /// dW [out, in] = dY^T X.
    static func weightGradient(_ dY: Tensor, input x: Tensor) -> Tensor {
        precondition(dY.rows == x.rows, "LinearBackward: dY has \(dY.rows) rows, input \(x.rows)")
        let tokens = x.rows, inF = x.cols, outF = dY.cols
        var dW = Tensor(zeros: [outF, inF])
        guard tokens > 0 else { return dW }
        dY.data.withUnsafeBufferPointer { gp in
        x.data.withUnsafeBufferPointer { xp in
        dW.data.withUnsafeMutableBufferPointer { wp in
            guard let g = gp.baseAddress, let xb = xp.baseAddress, let w = wp.baseAddress else { return }
            BLAS.gemm(transA: true, m: outF, n: inF, k: tokens, a: g, lda: outF, b: xb, ldb: inF,
                      c: w, ldc: inF)
        }}}
        return dW
    }

    /// dX [T, in] = dY W, or dX += dY W when `accumulate` (inputs shared by several linears,
    /// like q/k/v reading the same normed rows, sum their gradients).
    static func inputGradient(_ dY: Tensor, weight w: Tensor, into dX: inout Tensor, accumulate: Bool) {
        precondition(dY.cols == w.rows && dX.rows == dY.rows && dX.cols == w.cols,
                     "LinearBackward: shape mismatch")
        let tokens = dY.rows, inF = w.cols, outF = w.rows
        guard tokens > 0 else { return }
        dY.data.withUnsafeBufferPointer { gp in
        w.data.withUnsafeBufferPointer { wp in
        dX.data.withUnsafeMutableBufferPointer { xp in
            guard let g = gp.baseAddress, let wb = wp.baseAddress, let x = xp.baseAddress else { return }
            BLAS.gemm(m: tokens, n: inF, k: outF, a: g, lda: outF, b: wb, ldb: inF,
                      beta: accumulate ? 1 : 0, c: x, ldc: inF)
        }}}
    }

    /// dX [T, in] = dY W as a new tensor.
    static func inputGradient(_ dY: Tensor, weight w: Tensor) -> Tensor {
        var dX = Tensor(zeros: [dY.rows, w.cols])
        inputGradient(dY, weight: w, into: &dX, accumulate: false)
        return dX
    }
}
