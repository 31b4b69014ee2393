/// Element-wise kernels on raw buffers, vectorised with SIMD8<Float>.
///
/// These are the non-matmul parts of the forward pass (softmax, SiLU, RMSNorm). They
/// run on unsafe pointers so the hot loops carry no bounds checks.
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
        var mx = -Float.infinity
        for i in 0..<n { mx = max(mx, row[i]) }
        let m8 = SIMD8<Float>(repeating: mx)
        var sum8 = SIMD8<Float>(repeating: 0)
        var i = 0
        let raw = UnsafeMutableRawPointer(row)
        while i + 8 <= n {
            let e = exp(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - m8)
            raw.storeBytes(of: e, toByteOffset: i * 4, as: SIMD8<Float>.self)
            sum8 += e
            i += 8
        }
        var sum = sum8.sum()
        while i < n { let e = exp(row[i] - mx); row[i] = e; sum += e; i += 1 }
        let inv = 1 / sum
        for j in 0..<n { row[j] *= inv }
    }

    /// gate = silu(gate) * up, with silu(g) = g / (1 + e^-g). Both buffers hold `n` values.
    public static func siluMultiply(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int) {
        let gRaw = UnsafeMutableRawPointer(gate), uRaw = UnsafeRawPointer(up)
        var i = 0
        while i + 8 <= n {
            let g = gRaw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let u = uRaw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let s = g / (1 + exp(-g))
            gRaw.storeBytes(of: s * u, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { let g = gate[i]; gate[i] = g / (1 + exp(-g)) * up[i]; i += 1 }
    }

    /// y = w * x / sqrt(mean(x^2) + eps) for one row of `n` values (fp32, as LLaDA).
    /// Returns the reciprocal RMS, which the backward pass needs.
    @discardableResult
    public static func rmsNorm(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                               _ y: UnsafeMutablePointer<Float>, _ n: Int, eps: Float) -> Float {
        var ss: Float = 0
        for i in 0..<n { ss += x[i] * x[i] }
        let inv = 1 / (ss / Float(n) + eps).squareRoot()
        for i in 0..<n { y[i] = w[i] * (x[i] * inv) }
        return inv
    }
}
