/// Spearman's rank correlation, for decode order (commit step against position) and for the
/// reports (likelihood against accuracy across models).
public enum RankCorrelation {
    /// Pearson correlation of the mean ranks of x and y; nil when either has no spread.
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double? {
        let rx = meanRanks(x), ry = meanRanks(y)
        let n = Double(x.count)
        guard n >= 2 else { return nil }
        let mx = rx.reduce(0, +) / n, my = ry.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(rx, ry) {
            sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my)
        }
        guard sxx > 0, syy > 0 else { return nil }
        return sxy / (sxx * syy).squareRoot()
    }

    /// 1-based ranks; equal values share the mean of the ranks they span.
    public static func meanRanks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var ranks = [Double](repeating: 0, count: v.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
            let mean = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = mean }
            i = j + 1
        }
        return ranks
    }
}
