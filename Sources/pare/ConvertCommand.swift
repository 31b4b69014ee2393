import ArgumentParser
import Foundation
import Pare

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a Hugging Face LLaDA or Dream folder (safetensors) into a pare-dlm file.",
        discussion: "Reads config.json (+ generation_config.json), model.safetensors or the shards listed by "
            + "model.safetensors.index.json, and the tokenizer files, tensor by tensor: memory holds one slab of rows, "
            + "never the model. Each tensor keeps its stored precision unless --dtype is given.")

    @Argument(help: "The Hugging Face model folder.") var directory: String
    @Option(help: "Output pare-dlm file.") var output: String
    @Option(help: "Storage precision of every tensor: f32, f16 or bf16 (default: as stored).") var dtype: String?
    @Flag(name: .long, help: "Print one JSON object on stdout.") var json = false

    func validate() throws {
        if let dtype, StorageDType(shortName: dtype) == nil { throw ValidationError("--dtype must be f32, f16 or bf16 (got \(dtype))") }
    }

    func run() throws {
        try runReportingErrors {
            let start = Date()
            let summary = try HFConverter.convert(directory: directory, output: output, dtype: dtype.flatMap(StorageDType.init(shortName:)))
            let c = summary.config
            if let problem = summary.tokenizerProblem {
                log("warning: the tokenizer files were stored, but Pare cannot encode text with them: \(problem)")
            }
            if json {
                printJSON(["output": output, "architecture": c.architecture, "parameters": summary.parameters,
                           "source_files": summary.sourceFiles, "wall_seconds": Date().timeIntervalSince(start),
                           "tokenizer_problem": summary.tokenizerProblem ?? NSNull()])
            } else {
                print("wrote \(output): \(c.architecture), \(c.nLayers) blocks, d_model \(c.dModel), vocab \(c.vocabSize), "
                      + "\(summary.parameters) parameters from \(summary.sourceFiles) safetensors file(s)")
            }
        }
    }
}
