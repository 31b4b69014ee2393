import ArgumentParser
import Foundation
import Pare

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Decode answers with a masked-diffusion sampler and report NFE.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "One prompt.") var prompt: String?
    @Option(help: "A file with one prompt per line.") var prompts: String?
    @Option(help: "One prompt as token ids, comma-separated, e.g. 3,17,5.") var promptIds: String?
    @Option(help: "Prompts decoded together in one batch.") var batchSize = 32
    @Flag(help: "Wrap each prompt as one user turn in the model's chat format (LLaDA-8B-Instruct or Dream-v0-Instruct; BPE models only).")
    var chat = false
    @OptionGroup var sampling: SamplingArguments
    @OptionGroup var kernelArguments: KernelArguments

    func validate() throws {
        if [prompt, prompts, promptIds].compactMap({ $0 }).count != 1 {
            throw ValidationError("give exactly one of --prompt, --prompts or --prompt-ids")
        }
        if let promptIds, Self.parseIDs(promptIds) == nil {
            throw ValidationError("--prompt-ids must be comma-separated token ids, e.g. 3,17,5 (got \(promptIds))")
        }
        try requireRange("--batch-size", batchSize, 1...65_536)
        if chat && promptIds != nil { throw ValidationError("--chat wraps text prompts; it does not apply to --prompt-ids") }
    }

    func run() throws {
        try runReportingErrors {
            var loaded = try modelOptions.load()
            let tokenizer: any Tokenizer = chat ? try ChatTokenizer(format: ChatFormat.of(loaded.config), base: loaded.tokenizer)
                                                : loaded.tokenizer
            let texts: [String]
            let ids: [[Int]]
            if let promptIds {
                ids = [Self.parseIDs(promptIds)!]
                texts = [tokenizer.decode(ids[0])]
            } else {
                if let prompt { texts = [prompt] } else {
                    guard let data = FileManager.default.contents(atPath: prompts!) else {
                        throw CLIError("cannot read prompts file \(prompts!)")
                    }
                    texts = String(decoding: data, as: UTF8.self).textLines.filter { !$0.isEmpty }.map(String.init)
                    if texts.isEmpty { throw CLIError("prompts file \(prompts!) holds no prompt (every line is empty)") }
                }
                ids = try texts.map { try tokenizer.encode($0) }
            }
            // Tokens per forward pass: a full batch of the longest prompt plus the answer.
            let tokens = min(batchSize, ids.count) * ((ids.map(\.count).max() ?? 0) + sampling.options.genLength)
            let model = try kernelArguments.place(&loaded, tokens: tokens, quiet: modelOptions.json)
            let sampler = try MaskedDiffusionSampler(model: model, options: sampling.options)
            let start = Date()
            var results: [Generation] = []
            for batch in stride(from: 0, to: ids.count, by: batchSize) {
                results += try sampler.generate(Array(ids[batch..<min(batch + batchSize, ids.count)]))
            }
            let wall = Date().timeIntervalSince(start)
            for (text, g) in zip(texts, results) {
                let answer = tokenizer.decodeAnswer(g.tokens, eos: model.config.eosTokenID)
                let order = DecodeOrder(g)
                if modelOptions.json {
                    printJSON(["text": answer, "tokens": g.tokens, "nfe": g.nfe, "tokens_per_step": g.tokensPerStep,
                               "commit_step": g.commitStep, "decode_order": order.json] as [String: Any])
                } else {
                    print("\(text)\(answer)    [nfe \(g.nfe), \(String(format: "%.2f", g.tokensPerStep)) tokens/step; \(order.line)]")
                }
            }
            log(String(format: "%d prompt(s) in %.3f s", texts.count, wall))
        }
    }
}

extension GenerateCommand {
    /// "3,17,5" -> [3, 17, 5]; nil unless every part is an integer.
    static func parseIDs(_ text: String) -> [Int]? {
        let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        return parts.map { $0! }
    }
}
