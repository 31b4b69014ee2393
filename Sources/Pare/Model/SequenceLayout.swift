/// How a ragged batch of sequences is packed into one `[tokens, features]` matrix.
///
/// Sequences are concatenated without padding: the linears run once over every token of
/// the batch, and attention runs per sequence. Because no pad token ever exists, a
/// sequence gives the same result alone or inside any batch.
public struct SequenceLayout: Equatable, Sendable {
    public let lengths: [Int]
    /// offsets[s] = first row of sequence s.
    public let offsets: [Int]
    public let totalTokens: Int
    /// positions[r] = position of row r inside its own sequence (RoPE's position).
    public let positions: [Int]

    public init(lengths: [Int]) {
        self.lengths = lengths
        var offs: [Int] = []
        var pos: [Int] = []
        var total = 0
        for n in lengths {
            offs.append(total)
            pos.append(contentsOf: 0..<n)
            total += n
        }
        offsets = offs
        totalTokens = total
        positions = pos
    }

    public var count: Int { lengths.count }
    public var maxLength: Int { lengths.max() ?? 0 }
    public func rows(of s: Int) -> Range<Int> { offsets[s]..<(offsets[s] + lengths[s]) }
}
