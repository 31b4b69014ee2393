
/// Row-wise RMSNorm, forward and backward.
///
/// y = w * x * r with r = 1 / sqrt(mean(x^2) + eps), all in fp32 (docs/algorithms.md §1).
/// With x̂ = x * r and g = w * dy, the gradients of one row of n values are
///   dx = r * (g - x̂ * mean(g * x̂))
///   dw = sum over rows of dy * x̂
public enum Norm {
    /// x [T, d] -> (y [T, d], r [T]): the normed rows and each row's reciprocal RMS, which the
    /// backward pass reuses.
    public static func forward(_ x: Tensor, weight: Tensor, eps: Float) -> (y: Tensor, invRMS: [Float]) {
        let d = x.cols
        var y = Tensor(overwritten: x.shape)  // every row is written below
        var inv = [Float](repeating: 0, count: x.rows)
        guard x.rows > 0 else { return (y, inv) }
        x.data.withUnsafeBufferPointer { xp in
        weight.data.withUnsafeBufferPointer { wp in
        y.data.withUnsafeMutableBufferPointer { yp in
        inv.withUnsafeMutableBufferPointer { ip in
            guard let xb = xp.baseAddress, let wb = wp.baseAddress, let yb = yp.baseAddress,
                  let ib = ip.baseAddress else { return }
            Parallel.forEachChunk(x.rows, minChunk: 128) { rows in
                VectorMath.rmsNorm(xb + rows.lowerBound * d, wb, yb + rows.lowerBound * d, invRMS: ib + rows.lowerBound,
                                   rows: rows.count, d, eps: eps)
            }
        }}}}
        return (y, inv)
    }

    /// Backward of `y = rmsNorm(x, w)`: adds dL/dx into `dX` (the residual stream's gradient,
    /// so the norm branch accumulates onto the skip branch) and returns dL/dw [d].
    /// dY, x, dX: [T, d]; invRMS: [T] from `forward`.
    public static func backward(_ dY: Tensor, x: Tensor, weight: Tensor, invRMS: [Float],
                                       accumulatingInto dX: inout Tensor) -> Tensor {
        precondition(dY.shape == x.shape && dX.shape == x.shape && invRMS.count == x.rows && weight.count == x.cols,
                     "rmsNormBackward: shape mismatch")
        let rowsCount = x.rows, d = x.cols
        var dW = Tensor(zeros: weight.shape)
        guard rowsCount > 0 else { return dW }
        // dy * x̂ per element [T, d]; its column sums are dw, taken with one gemv below.
        var dyXhat = [Float](repeating: 0, count: rowsCount * d)
        dY.data.withUnsafeBufferPointer { gp in
        x.data.withUnsafeBufferPointer { xp in
        weight.data.withUnsafeBufferPointer { wp in
        invRMS.withUnsafeBufferPointer { ip in
        dX.data.withUnsafeMutableBufferPointer { dxp in
        dyXhat.withUnsafeMutableBufferPointer { pp in
            guard let gb = gp.baseAddress, let xb = xp.baseAddress, let wb = wp.baseAddress,
                  let ib = ip.baseAddress, let dxb = dxp.baseAddress, let pb = pp.baseAddress else { return }
            let invD = 1 / Float(d)
            Parallel.forEachChunk(rowsCount, minChunk: 128) { rows in
                for r in rows {
                    let dy = gb + r * d, xr = xb + r * d, dx = dxb + r * d, prod = pb + r * d
                    let inv = ib[r]
                    // mean(g * x̂), the part of the gradient that flows through r.
                    var dot: Float = 0
                    for i in 0..<d { dot += wb[i] * dy[i] * (xr[i] * inv) }
                    let c = dot * invD
                    for i in 0..<d {
                        let xhat = xr[i] * inv
                        dx[i] += inv * (wb[i] * dy[i] - xhat * c)
                        prod[i] = dy[i] * xhat
                    }
                }
            }
        }}}}}}
        // dw [d] = (dy * x̂)^T 1
        let ones = [Float](repeating: 1, count: rowsCount)
        dyXhat.withUnsafeBufferPointer { pp in
        ones.withUnsafeBufferPointer { op in
        dW.data.withUnsafeMutableBufferPointer { wp in
            guard let p = pp.baseAddress, let o = op.baseAddress, let w = wp.baseAddress else { return }
            BLAS.gemvTransposed(rows: rowsCount, cols: d, p, o, w)
        }}}
        return dW
    }
}
