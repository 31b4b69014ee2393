import Foundation

/// How `pare eval` judges a task's output (the text before the first EOS).
public enum TaskScoring: String, Codable, Sendable {
    /// The output equals the task's one answer.
    case exact
    /// The task's checker accepts the output: any of several answers is right.
    case validity
}

/// One prompt and a reference answer, as text (the answer without EOS padding).
public struct TaskExample: Equatable, Sendable {
    public var prompt: String
    public var answer: String
    public init(prompt: String, answer: String) { self.prompt = prompt; self.answer = answer }

    /// Answer tokens: the answer's characters, then EOS up to `length`.
    public func answerTokens(_ tokenizer: any Tokenizer, eos: Int, length: Int) throws -> [Int] {
        let ids = try tokenizer.encode(answer)
        return ids + [Int](repeating: eos, count: max(0, length - ids.count))
    }
}

/// A task that `pare train` draws examples of and `pare eval` scores: the four reference tasks
/// and the dependent-token tasks (docs/tasks.md).
public protocol TaskDefinition: Sendable {
    var name: String { get }
    /// Length of the generation region: the answer, then EOS padding.
    var generationLength: Int { get }
    var scoring: TaskScoring { get }
    /// This task's seed stream under a split; distinct for every task in `TaskCatalog.all`.
    var streamIndex: UInt64 { get }
    /// Draws one example.
    func example(_ rng: inout SplitMix64) -> TaskExample
    /// Whether `output` is a right answer to `example.prompt`. The one place scoring happens.
    func score(_ output: String, for example: TaskExample) -> Bool
}

extension TaskDefinition {
    /// Exact match, unless the task checks validity itself.
    public func score(_ output: String, for example: TaskExample) -> Bool { output == example.answer }

    /// `count` examples; the same (split, seed) always gives the same list, and a longer list
    /// extends a shorter one.
    public func examples(_ count: Int, split: DataSplit, seed: UInt64 = 0) -> [TaskExample] {
        var rng = split.stream(seed: seed, index: streamIndex)
        return (0..<count).map { _ in example(&rng) }
    }
}

/// Every task by name, in one list: the order is the canonical order of task mixes.
public enum TaskCatalog {
    public static let all: [any TaskDefinition] = ReferenceTask.allCases + DependentTask.allCases

    public static func named(_ name: String) -> (any TaskDefinition)? {
        all.first { $0.name == name }
    }

    public static var names: [String] { all.map(\.name) }

    /// The tasks a model was last trained on: those of the newest `train` entry of its
    /// provenance, or of a newer `finetune` entry that trained on tasks (one with `tasks`; a
    /// fine-tuning on a data file does not change them), in catalog order. nil when there is
    /// none, or it names a task this catalog lacks.
    public static func trained(provenance: [String]) -> [any TaskDefinition]? {
        for text in provenance.reversed() {
            guard let entry = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { continue }
            let op = entry["op"] as? String
            guard op == "train" || (op == "finetune" && entry["tasks"] != nil) else { continue }
            guard let mix = entry["tasks"] as? [String: Any], !mix.isEmpty,
                  mix.keys.allSatisfy({ named($0) != nil }) else { return nil }
            return all.filter { mix[$0.name] != nil }
        }
        return nil
    }

    /// The tasks `eval` scores and `prune`/`drop` calibrate on when none are named: the model's
    /// own training tasks (pare-dep: hops, carry, color, spread), else the four reference tasks.
    public static func defaults(provenance: [String]) -> [any TaskDefinition] {
        trained(provenance: provenance) ?? ReferenceTask.allCases
    }
}

extension ReferenceTask: TaskDefinition {
    public var name: String { rawValue }
    public var generationLength: Int { Self.generationLength }
    public var scoring: TaskScoring { .exact }
    public var streamIndex: UInt64 { UInt64(Self.allCases.firstIndex(of: self)!) }
    public func example(_ rng: inout SplitMix64) -> TaskExample {
        let s = sample(&rng)
        return TaskExample(prompt: s.prompt, answer: s.answer)
    }
}
