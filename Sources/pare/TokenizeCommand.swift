import ArgumentParser
import Foundation
import Pare

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Show the token ids the model's tokenizer gives a text (no weight is read).")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "The text to tokenize.") var text: String
    @Flag(help: "Wrap the text as one user turn in the model's chat format (LLaDA-8B-Instruct or Dream-v0-Instruct; BPE models only).")
    var chat = false

    func run() throws {
        try runReportingErrors {
            let header = try CheckpointReader(path: modelOptions.resolvedPath()).header
            let base = try ModelFile.makeTokenizer(header)
            let tokenizer: any Tokenizer = chat ? try ChatTokenizer(format: ChatFormat.of(header.config), base: base) : base
            let ids = try tokenizer.encode(text)
            if modelOptions.json {
                printJSON(["ids": ids])
            } else {
                let width = String(ids.max() ?? 0).count
                for id in ids { print(String(repeating: " ", count: width - String(id).count) + "\(id)  \"\(tokenizer.piece(id).escapedForOneLine)\"") }
                print("\(ids.count) tokens")
            }
        }
    }
}
