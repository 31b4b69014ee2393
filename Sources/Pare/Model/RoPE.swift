import Foundation

/// Rotary position embedding, the "rotate-half" (NeoX) variant LLaDA uses (docs/algorithms.md §1).
///
/// For head dim D and half = D/2, dimension pairs are (i, i + half) with
/// inv_freq_i = theta^(-2i/D) and angle = position * inv_freq_i:
///   out[i]        = x[i] cos - x[i+half] sin
///   out[i + half] = x[i+half] cos + x[i] sin
public struct RoPE: Sendable {
    public let headDim: Int
    public let theta: Double
    /// cos/sin tables, [positions, half], computed in double then rounded to fp32.
    private(set) var cosTable: [Float] = []
    private(set) var sinTable: [Float] = []
    public private(set) var maxPositions = 0

    public init(headDim: Int, theta: Double, maxPositions: Int) {
        self.headDim = headDim
        self.theta = theta
        grow(to: maxPositions)
    }

    /// Makes sure the tables cover positions 0..<n.
    public mutating func grow(to n: Int) {
        guard n > maxPositions else { return }
        let half = headDim / 2
        cosTable = [Float](repeating: 0, count: n * half)
        sinTable = [Float](repeating: 0, count: n * half)
        let invFreq = (0..<half).map { i in Foundation.pow(theta, -2.0 * Double(i) / Double(headDim)) }
        for p in 0..<n {
            for i in 0..<half {
                let angle = Double(p) * invFreq[i]
                cosTable[p * half + i] = Float(Foundation.cos(angle))
                sinTable[p * half + i] = Float(Foundation.sin(angle))
            }
        }
        maxPositions = n
    }

    /// Rotates every head of every row in place. x: [tokens, heads * headDim];
    /// `inverse` rotates by -angle (the backward pass of RoPE).
    public func apply(_ x: inout Tensor, heads: Int, positions: [Int], inverse: Bool = false) {
        precondition(positions.max().map { $0 < maxPositions } ?? true, "RoPE table too short")
        let half = headDim / 2, width = heads * headDim
        let sign: Float = inverse ? -1 : 1
        cosTable.withUnsafeBufferPointer { cp in
            sinTable.withUnsafeBufferPointer { sp in
                x.data.withUnsafeMutableBufferPointer { xp in
                    let base = xp.baseAddress!
                    Parallel.forEachChunk(positions.count, minChunk: 64) { rows in
                        for r in rows {
                            let c = cp.baseAddress! + positions[r] * half
                            let s = sp.baseAddress! + positions[r] * half
                            for h in 0..<heads {
                                let v = base + r * width + h * headDim
                                for i in 0..<half {
                                    let a = v[i], b = v[i + half], sn = sign * s[i]
                                    v[i] = a * c[i] - b * sn
                                    v[i + half] = b * c[i] + a * sn
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension RoPE {
    private final class Cache: @unchecked Sendable {
        let lock = NSLock()
        var tables: [String: RoPE] = [:]
    }
    private static let cache = Cache()

    /// Tables covering at least positions 0..<positions, shared by every forward pass of the
    /// process (cos and sin are costly enough to matter per pass). They grow with the longest
    /// batch actually run, never to a file's declared max_seq_len.
    public static func covering(_ positions: Int, headDim: Int, theta: Double) -> RoPE {
        let key = "\(headDim)/\(theta.bitPattern)"
        cache.lock.lock()
        defer { cache.lock.unlock() }
        if let rope = cache.tables[key], rope.maxPositions >= positions { return rope }
        let rope = RoPE(headDim: headDim, theta: theta, maxPositions: (positions + 63) / 64 * 64)
        cache.tables[key] = rope
        return rope
    }
}
