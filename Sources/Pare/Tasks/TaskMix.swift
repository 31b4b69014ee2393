import Foundation

/// Tasks with sampling weights: the one place training batches are drawn from task generators,
/// for `pare train` (the recipe's `tasks:`) and `pare finetune` (`--tasks`, or the model's own
/// training tasks, equally weighted).
public struct TaskMix: Sendable {
    /// (task, weight > 0), in catalog order.
    public let entries: [(task: any TaskDefinition, weight: Double)]

    public init(_ entries: [(any TaskDefinition, Double)]) {
        self.entries = entries.map { (task: $0.0, weight: $0.1) }
    }

    /// Every task with weight 1.
    public init(equal tasks: [any TaskDefinition]) {
        self.init(tasks.map { ($0, 1.0) })
    }

    public var tasks: [any TaskDefinition] { entries.map(\.task) }

    /// Task name → weight, as provenance entries record a mix.
    public var weights: [String: Double] {
        Dictionary(entries.map { ($0.task.name, $0.weight) }, uniquingKeysWith: { a, _ in a })
    }

    /// `count` training examples, each task drawn by weight, then one example of it from the
    /// task's generator. The draws use `rng` alone, so a step's batch depends on its seed only.
    /// `kvKeyedShare` is the kv curriculum of `pare train` (an extra draw per kv example only
    /// while it is above 0, so mixes without it keep their batches).
    public func batch(count: Int, tokenizer: any Tokenizer, eos: Int, kvKeyedShare: Double = 0,
                      rng: inout SplitMix64) throws -> [PromptAnswer] {
        let total = entries.reduce(0) { $0 + $1.weight }
        return try (0..<count).map { _ in
            var u = rng.uniform() * total
            var task = entries.last!.task
            for (t, w) in entries { if u < w { task = t; break }; u -= w }
            let s: TaskExample
            if task as? ReferenceTask == .kv && kvKeyedShare > 0 && rng.uniform() < kvKeyedShare {
                let keyed = ReferenceTask.kvSample(&rng, keyed: true)
                s = TaskExample(prompt: keyed.prompt, answer: keyed.answer)
            } else {
                s = task.example(&rng)
            }
            do {
                return PromptAnswer(prompt: try tokenizer.encode(s.prompt),
                                    answer: try s.answerTokens(tokenizer, eos: eos, length: task.generationLength))
            } catch {
                throw TaskMixError.unencodable(task: task.name, reason: "\(error)")
            }
        }
    }
}

public enum TaskMixError: Error, CustomStringConvertible {
    case unencodable(task: String, reason: String)

    public var description: String {
        switch self {
        case .unencodable(let task, let reason):
            return "the model's tokenizer cannot encode the \(task) task's text (\(reason)); its vocabulary lacks the task's characters"
        }
    }
}
