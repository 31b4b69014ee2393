import Foundation

/// SplitMix64: the one pseudo-random generator behind every random choice in Pare.
///
/// Chosen because it is tiny, fast, and easy to reproduce bit for bit in another
/// language (the numpy reference in Tests/PareTests/Fixtures/reference does exactly this).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double strictly inside (0, 1): ((next >> 11) + 0.5) * 2^-53.
    public mutating func uniform() -> Double {
        (Double(next() >> 11) + 0.5) * 0x1p-53
    }

    /// Gumbel(0, 1) noise, -log(-log(u)).
    public mutating func gumbel() -> Double {
        -Foundation.log(-Foundation.log(uniform()))
    }
}
