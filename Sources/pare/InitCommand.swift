import ArgumentParser
import Foundation
import Pare

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a randomly initialised LLaDA or Dream model of any shape (written block by block).")

    @Option(help: "llada, or dream (q/k/v biases, shifted logits).") var architecture = "llada"

    @Option(help: "Output model file.") var output: String
    @Option(help: "Model width.") var dModel = 128
    @Option(help: "Number of blocks.") var nLayers = 8
    @Option(help: "Attention heads.") var nHeads = 4
    @Option(help: "Key/value heads (grouped-query attention when < heads).") var nKvHeads: Int?
    @Option(help: "MLP width.") var dFF = 344
    @Option(help: "Vocabulary size: the reference characters, then synthetic tokens <t45>, <t46>, ... (default: the reference vocabulary).")
    var vocab: Int?
    @Option(help: "Longest sequence.") var maxSeqLen = 64
    @Option(help: "Storage precision: f32, f16 or bf16.") var dtype = "f32"
    @Option(help: "Seed of the initialisation.") var seed: UInt64 = 0
    @Flag(help: "Store tensors as float16 (same as --dtype f16).") var float16 = false

    var storage: StorageDType? { float16 ? .float16 : StorageDType(shortName: dtype) }

    func validate() throws {
        if storage == nil { throw ValidationError("--dtype must be f32, f16 or bf16 (got \(dtype))") }
        if !ModelConfig.architectures.contains(architecture) {
            throw ValidationError("--architecture must be \(ModelConfig.architectures.joined(separator: " or ")) (got \(architecture))")
        }
        for (name, v, range) in [("--d-model", dModel, 1...65_536), ("--n-layers", nLayers, 0...ModelConfig.maxLayers),
                                 ("--n-heads", nHeads, 1...1_024), ("--d-ff", dFF, 1...262_144),
                                 ("--max-seq-len", maxSeqLen, 1...1_048_576), ("--vocab", vocab ?? 1_000, 1...4_194_304)] {
            try requireRange(name, v, range)
        }
        let reference = CharTokenizer.referenceVocab.count
        if let vocab, vocab < reference {
            throw ValidationError("--vocab must be at least \(reference), the reference characters (got \(vocab))")
        }
    }

    func run() throws {
        try runReportingErrors {
            let tokens = CharTokenizer.syntheticVocab(size: vocab ?? CharTokenizer.referenceVocab.count)
            let config = ModelConfig(architecture: architecture, vocabSize: tokens.count, dModel: dModel, nLayers: nLayers, nHeads: nHeads,
                                     nKVHeads: nKvHeads ?? nHeads, dFF: dFF, maxSeqLen: maxSeqLen,
                                     maskTokenID: 1, eosTokenID: 0)
            if let p = config.problem() { throw CLIError("invalid model shape: \(p)") }
            let storage = self.storage!
            let writer = try ModelWriter(path: output, config: config, vocab: tokens) { _ in storage }
            var written = 0
            try LLaDAModel.randomTensors(config: config, seed: seed) { key, tensor in
                try writer.write(key, tensor)
                written += 1
                if key.hasSuffix("ff_out.weight") && key.contains("blocks.") {
                    log("block \(key.split(separator: ".")[3]) of \(config.nLayers) written")
                }
            }
            let entry = Checkpoint.provenanceEntry(["op": "init", "seed": seed, "dtype": storage.rawValue, "architecture": architecture])
            try writer.finish(provenance: [entry])
            let parameters = config.expectedTensors.reduce(0) { $0 + $1.shape.reduce(1, *) }
            log("wrote \(output): \(parameters) parameters (\(storage.rawValue)), random weights (seed \(seed))")
        }
    }
}
