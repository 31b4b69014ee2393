import CSparseKernels

/// Element-wise kernels on raw buffers: the non-matmul parts of the forward pass (softmax,
/// SiLU, RMSNorm). The loops themselves are C (CSparseKernels/elementwise.inc), built for
/// AVX-512, AVX2 and portable vectors and chosen at run time (`SIMDLevel.active`); `exp` stays
/// here in Swift for the sampler's confidences, with the same polynomial.
public enum VectorMath {
    /// e^x for 8 lanes at once (Cephes-style range reduction + degree-6 polynomial,
    /// about 1 ulp over the float range; inputs below -87.3 flush towards 0).
    @inline(__always)
    public static func exp(_ v: SIMD8<Float>) -> SIMD8<Float> {
        // Generic SIMD conversions and rounding are not lowered to vector instructions,
        // so both are done with the 1.5 * 2^23 "magic number" trick on the bit pattern.
        let lo = SIMD8<Float>(repeating: -87.3), hi = SIMD8<Float>(repeating: 88.3)
        let x = v.replacing(with: lo, where: v .< lo).replacing(with: hi, where: v .> hi)
        let magic = SIMD8<Float>(repeating: 12_582_912)           // 1.5 * 2^23
        let t = x * 1.442_695_04 + magic                          // low mantissa bits = round(x / ln 2)
        let n = t - magic
        var r = x - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        p = p * (r * r) + r + 1
        let bits = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23   // 2^n
        return p * unsafeBitCast(bits, to: SIMD8<Float>.self)
    }

    /// Scalar e^x through the same polynomial, so vector body and tail agree exactly.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        exp(SIMD8<Float>(repeating: x))[0]
    }

    /// In-place softmax of one row of `n` values: p_i = e^(x_i - max) / sum_j e^(x_j - max).
    public static func softmaxInPlace(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
        softmaxRows(row, rows: 1, n)
    }

    /// `rows` consecutive rows of `n` values, each replaced by its softmax.
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, _ n: Int, level: SIMDLevel = .active) {
        pare_softmax_rows(level.code, x, Int64(rows), Int64(n))
    }

    /// gate = silu(gate) * up, with silu(g) = g / (1 + e^-g). Both buffers hold `n` values.
    public static func siluMultiply(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int,
                                    level: SIMDLevel = .active) {
        pare_silu_mul(level.code, gate, up, Int64(n))
    }

    /// y = w * x / sqrt(mean(x^2) + eps) for `rows` rows of `n` values (fp32, as LLaDA);
    /// invRMS[r] receives each row's reciprocal RMS, which the backward pass needs.
    public static func rmsNorm(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                               invRMS: UnsafeMutablePointer<Float>?, rows: Int, _ n: Int, eps: Float,
                               level: SIMDLevel = .active) {
        pare_rms_norm_rows(level.code, x, w, y, invRMS, Int64(rows), Int64(n), eps)
    }
}
