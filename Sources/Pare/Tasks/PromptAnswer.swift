/// A prompt and its answer (answer = text tokens then EOS padding), as token ids.
public struct PromptAnswer: Sendable {
    public var prompt: [Int]
    public var answer: [Int]
    public init(prompt: [Int], answer: [Int]) { self.prompt = prompt; self.answer = answer }
}
