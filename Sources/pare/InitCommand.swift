import ArgumentParser
import Foundation
import Pare

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a randomly initialised LLaDA model with the reference-task tokenizer.")

    @Option(help: "Output model file.") var output: String
    @Option(help: "Model width.") var dModel = 128
    @Option(help: "Number of blocks.") var nLayers = 8
    @Option(help: "Attention heads.") var nHeads = 4
    @Option(help: "Key/value heads (grouped-query attention when < heads).") var nKvHeads: Int?
    @Option(help: "MLP width.") var dFF = 344
    @Option(help: "Longest sequence.") var maxSeqLen = 64
    @Option(help: "Seed of the initialisation.") var seed: UInt64 = 0
    @Flag(help: "Store tensors as float16.") var float16 = false

    func run() throws {
        try runReportingErrors {
            let vocab = CharTokenizer.referenceVocab
            let config = ModelConfig(vocabSize: vocab.count, dModel: dModel, nLayers: nLayers, nHeads: nHeads,
                                     nKVHeads: nKvHeads ?? nHeads, dFF: dFF, maxSeqLen: maxSeqLen,
                                     maskTokenID: 1, eosTokenID: 0)
            if let p = config.problem() { throw CLIError("invalid model shape: \(p)") }
            let model = LLaDAModel.random(config: config, seed: seed)
            let entry = #"{"op": "init", "seed": \#(seed)}"#
            try model.checkpoint(vocab: vocab, provenance: [entry]).save(to: output, dtype: float16 ? .float16 : .float32)
            log("wrote \(output): \(model.parameterCount) parameters, random weights (seed \(seed))")
        }
    }
}
