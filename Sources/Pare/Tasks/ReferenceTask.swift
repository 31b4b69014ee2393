/// The four reference tasks (README "The reference tasks"): the bundled model's world.
///
/// Character-level and deterministic from a seed. Each answer is followed by EOS padding
/// up to the 12-token generation region; accuracy is exact match of the text before EOS.
public enum ReferenceTask: String, CaseIterable, Codable, Sendable {
    /// `{a}+{b}=` with a, b in 0...99 -> a+b (arithmetic with carries).
    case add
    /// 2-5 pairs `k:v` joined by `,`, then `?{k}=` -> the value (retrieval).
    case kv
    /// `rev:{s}=` with 3-10 letters -> s reversed (fully parallel copy).
    case rev
    /// `a={n};b=a+{d};...?x=` with 1-3 hops -> the last value (sequential reasoning).
    case chain

    /// Length of the generation region: the answer, then EOS padding.
    public static let generationLength = 12

    static let letters = Array("abcdefghijklmnopqrstuvwxyz")

    /// Draws one sample.
    public func sample(_ rng: inout SplitMix64) -> TaskSample {
        func int(_ range: ClosedRange<Int>) -> Int {
            range.lowerBound + Int(rng.next() % UInt64(range.count))
        }
        switch self {
        case .add:
            let a = int(0...99), b = int(0...99)
            return TaskSample(task: self, prompt: "\(a)+\(b)=", answer: "\(a + b)")
        case .kv:
            return Self.kvSample(&rng, keyed: false)
        case .rev:
            let s = String((0..<int(3...10)).map { _ in Self.letters[int(0...25)] })
            return TaskSample(task: self, prompt: "rev:\(s)=", answer: String(s.reversed()))
        case .chain:
            let hops = int(1...3)
            var value = int(0...9)
            var prompt = "a=\(value)"
            let names = Array("abcd")
            for h in 1...hops {
                let d = int(1...9)
                // Subtract only when the result stays >= 0; values never leave 0...99.
                let subtract = value - d >= 0 && rng.next() % 2 == 0
                value += subtract ? -d : d
                prompt += ";\(names[h])=\(names[h - 1])\(subtract ? "-" : "+")\(d)"
            }
            return TaskSample(task: self, prompt: prompt + "?\(names[hops])=", answer: "\(value)")
        }
    }
}

extension ReferenceTask {
    /// A kv sample. `keyed` (a training curriculum, never a test sample): every value is a fixed
    /// function of its key (letter index mod 10) instead of a random digit, so the answer can be
    /// read off the query key alone and a masked prompt value off its own key. Those two
    /// "fetch the token two places back" circuits are what retrieval is built from; on random
    /// values they are only rewarded once retrieval already works, which is why kv stalls.
    public static func kvSample(_ rng: inout SplitMix64, keyed: Bool) -> TaskSample {
        func int(_ range: ClosedRange<Int>) -> Int {
            range.lowerBound + Int(rng.next() % UInt64(range.count))
        }
        let n = int(2...5)
        var keys: [Character] = []
        while keys.count < n {
            let k = letters[int(0...25)]
            if !keys.contains(k) { keys.append(k) }
        }
        let values = keys.map { keyed ? letters.firstIndex(of: $0)! % 10 : int(0...9) }
        let q = int(0...(n - 1))
        let pairs = zip(keys, values).map { "\($0):\($1)" }.joined(separator: ",")
        return TaskSample(task: .kv, prompt: "\(pairs)?\(keys[q])=", answer: "\(values[q])")
    }
}

/// One prompt and its answer text (without EOS padding).
public struct TaskSample: Equatable, Sendable {
    public var task: ReferenceTask
    public var prompt: String
    public var answer: String

    public init(task: ReferenceTask, prompt: String, answer: String) {
        self.task = task; self.prompt = prompt; self.answer = answer
    }

    /// Answer tokens: the answer's characters, then EOS up to the generation length.
    public func answerTokens(_ tokenizer: any Tokenizer, eos: Int,
                             length: Int = ReferenceTask.generationLength) throws -> [Int] {
        let ids = try tokenizer.encode(answer)
        return ids + [Int](repeating: eos, count: max(0, length - ids.count))
    }
}

/// Train and test splits, drawn from disjoint seed streams.
public enum DataSplit: String, Codable, Sendable {
    case train, test

    /// The generator of stream `index` under `seed`: test streams have the top seed bit set,
    /// train streams have it clear, so no train stream is ever a test stream.
    public func stream(seed: UInt64, index: UInt64) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ (index &* 0xD1B5_4A32_D192_ED03))
        let bits = mixer.next() & ~(1 << 63)
        return SplitMix64(seed: self == .test ? bits | (1 << 63) : bits)
    }
}

extension ReferenceTask {
    /// `count` samples of this task; the same (split, seed) always gives the same list,
    /// and a longer list extends a shorter one.
    public func samples(_ count: Int, split: DataSplit, seed: UInt64 = 0) -> [TaskSample] {
        let taskIndex = UInt64(Self.allCases.firstIndex(of: self)!)
        var rng = split.stream(seed: seed, index: taskIndex)
        return (0..<count).map { _ in sample(&rng) }
    }
}
