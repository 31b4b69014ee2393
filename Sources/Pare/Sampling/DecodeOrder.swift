import Foundation

/// In which order one generation's positions were committed (docs/algorithms.md §3.9).
///
/// Computed from `Generation.commitStep` alone, so every sampler is measured the same way.
public struct DecodeOrder: Equatable, Sendable {
    /// Tokens committed by each step, step 1 first; its length is the number of steps taken.
    public var commitsPerStep: [Int]
    /// Commits at the leftmost still-masked position (a step committing a contiguous run from
    /// the leftmost masked position counts the whole run).
    public var leftmostCommits: Int
    /// Commits in all (the generation length L).
    public var commits: Int
    /// Spearman rank correlation of commit step against position, ties at their mean rank;
    /// nil when every position was committed by the same step (or L = 1): no order to measure.
    public var spearman: Double?
    /// The step at which Prophet committed the rest, if it did.
    public var prophetStep: Int?

    /// Share of commits at the leftmost still-masked position (1 = strictly left to right).
    public var leftmostShare: Double { commits == 0 ? 0 : Double(leftmostCommits) / Double(commits) }

    /// `commitStep[i]` is the 1-based step that committed position i.
    public init(commitStep: [Int], prophetStep: Int? = nil) {
        let steps = commitStep.max() ?? 0
        var perStep = [Int](repeating: 0, count: steps)
        for s in commitStep where s >= 1 { perStep[s - 1] += 1 }
        commitsPerStep = perStep
        commits = commitStep.count
        // Position i was leftmost when nothing to its left was still masked after its step:
        // every earlier position was committed at the same step or before.
        var leftmost = 0, latestToTheLeft = 0
        for s in commitStep {
            if latestToTheLeft <= s { leftmost += 1 }
            latestToTheLeft = max(latestToTheLeft, s)
        }
        leftmostCommits = leftmost
        spearman = RankCorrelation.spearman(commitStep.map(Double.init), (0..<commitStep.count).map(Double.init))
        self.prophetStep = prophetStep
    }

    public init(_ generation: Generation) {
        self.init(commitStep: generation.commitStep, prophetStep: generation.prophetStep)
    }

}

/// Decode-order figures of many generations (one task in `pare eval`).
public struct DecodeOrderSummary: Codable, Equatable, Sendable {
    /// Steps by how many tokens they committed: histogram[k] = steps that committed k tokens.
    public var commitsPerStepHistogram: [Int: Int] = [:]
    public var leftmostCommits = 0
    public var commits = 0
    /// Sum and count of the defined Spearman correlations.
    public var spearmanSum = 0.0
    public var spearmanCount = 0
    public var generations = 0
    /// Generations Prophet ended early, and the sum of their Prophet steps.
    public var prophetCommits = 0
    public var prophetStepSum = 0

    public init() {}

    public mutating func add(_ order: DecodeOrder) {
        for k in order.commitsPerStep { commitsPerStepHistogram[k, default: 0] += 1 }
        leftmostCommits += order.leftmostCommits
        commits += order.commits
        if let r = order.spearman { spearmanSum += r; spearmanCount += 1 }
        generations += 1
        if let p = order.prophetStep { prophetCommits += 1; prophetStepSum += p }
    }

    /// Share of all commits made at the leftmost still-masked position.
    public var leftmostShare: Double { commits == 0 ? 0 : Double(leftmostCommits) / Double(commits) }
    /// Mean Spearman correlation over the generations where it is defined; nil if none.
    public var meanSpearman: Double? { spearmanCount == 0 ? nil : spearmanSum / Double(spearmanCount) }
    /// Share of generations that Prophet ended early.
    public var prophetShare: Double { generations == 0 ? 0 : Double(prophetCommits) / Double(generations) }
    /// Mean step at which Prophet committed, over the generations where it did; nil if none.
    public var meanProphetStep: Double? { prophetCommits == 0 ? nil : Double(prophetStepSum) / Double(prophetCommits) }

    /// The JSON object of `eval` (README "JSON output"): histogram keys are commit counts.
    public var json: [String: Any] {
        var o: [String: Any] = [
            "commits_per_step_histogram": Dictionary(uniqueKeysWithValues: commitsPerStepHistogram.map { (String($0.key), $0.value) }),
            "leftmost_share": leftmostShare,
            "spearman": meanSpearman.map { $0 as Any } ?? NSNull(),
            "spearman_defined": spearmanCount,
            "prophet_share": prophetShare,
            "prophet_step_mean": meanProphetStep.map { $0 as Any } ?? NSNull(),
        ]
        o["generations"] = generations
        return o
    }

    /// One line for the text output: "commits/step 1:380 3:12  leftmost 0.97  spearman 0.95  prophet 0.40 @ 6.5".
    public var line: String {
        let hist = commitsPerStepHistogram.keys.sorted().map { "\($0):\(commitsPerStepHistogram[$0]!)" }.joined(separator: " ")
        var s = "commits/step " + hist + String(format: "  leftmost %.2f  spearman ", leftmostShare)
            + (meanSpearman.map { String(format: "%.2f", $0) } ?? "n/a")
        if let p = meanProphetStep { s += String(format: "  prophet %.2f @ step %.1f", prophetShare, p) }
        return s
    }
}

extension DecodeOrder {
    /// The `generate --json` fields of one generation.
    public var json: [String: Any] {
        ["commits_per_step": commitsPerStep, "leftmost_share": leftmostShare,
         "spearman": spearman.map { $0 as Any } ?? NSNull(), "prophet_step": prophetStep.map { $0 as Any } ?? NSNull()]
    }

    /// The `generate` text line's decode-order part; runs of equal counts as `count x steps`
    /// ("13,1x19": 13 tokens in step 1, then one per step for 19 steps).
    public var line: String {
        var runs: [(count: Int, steps: Int)] = []
        for c in commitsPerStep {
            if let last = runs.last, last.count == c { runs[runs.count - 1].steps += 1 } else { runs.append((c, 1)) }
        }
        return "commits/step " + runs.map { $0.steps == 1 ? "\($0.count)" : "\($0.count)x\($0.steps)" }.joined(separator: ",")
            + String(format: ", leftmost %.2f, spearman ", leftmostShare)
            + (spearman.map { String(format: "%.2f", $0) } ?? "n/a")
            + (prophetStep.map { ", prophet @ step \($0)" } ?? "")
    }
}
