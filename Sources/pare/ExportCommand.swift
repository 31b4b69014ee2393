import ArgumentParser
import Foundation
import Pare

/// Output formats of `pare export`.
enum ExportFormat: String, CaseIterable, ExpressibleByArgument {
    /// A pare-dlm file whose block linears are sparse-encoded groups (docs/format.md).
    case sparseH5 = "sparse-h5"
    /// A Hugging Face folder: config.json, safetensors shards + index, tokenizer files.
    case hf
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model as a Hugging Face folder (--format hf) or with its block linears sparse-encoded (--format sparse-h5).",
        discussion: "sparse-h5 is a pare-dlm file whose seven linears per block are stored bitmask, csr (the anndata CSR "
            + "encoding scipy reads) or nm; every Pare command loads it, the linears as sparse matrices. "
            + "hf writes a folder: config.json, safetensors shards with model.safetensors.index.json, the tokenizer files; "
            + "--like HF_DIR copies that folder's other files (remote-code .py files too) and keeps its config keys.")

    @Argument(help: "Model file to export (or give --model).") var input: String?
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "hf or sparse-h5.") var format: ExportFormat
    @Option(help: "Output file (sparse-h5) or folder (hf).") var output: String
    @Option(help: "For --format hf: the original Hugging Face folder whose config keys and non-weight files to keep.") var like: String?
    @Option(help: "For --format hf: the most bytes of tensor data per safetensors shard.") var maxShardBytes: Int = 5_000_000_000
    @Option(help: "Encoding of the block linears: bitmask, csr, or nm (needs --pattern N:M).") var store: LinearStore = .bitmask
    @Option(help: "For --store nm: the model's N:M pattern as pruned (N zeros in every M inputs, e.g. 2:4).") var pattern: String?
    @Option(help: "Storage precision of every tensor: f32, f16 or bf16 (default: each keeps its own).") var dtype: String?

    /// The --pattern given (which must be N:M), or unstructured without one; nil when unparsable.
    var parsedPattern: SparsityPattern? {
        guard let pattern else { return .unstructured }
        guard let parsed = SparsityPattern(pattern), case .nOfM = parsed else { return nil }
        return parsed
    }

    func validate() throws {
        if input != nil && modelOptions.model != nil { throw ValidationError("give the model once: as an argument or with --model") }
        if let dtype, StorageDType(shortName: dtype) == nil { throw ValidationError("--dtype must be f32, f16 or bf16 (got \(dtype))") }
        if format == .hf {
            if pattern != nil { throw ValidationError("--pattern is for --format sparse-h5") }
            try requireRange("--max-shard-bytes", maxShardBytes, 1...(1 << 50))
            return
        }
        if like != nil { throw ValidationError("--like is for --format hf") }
        if store == .dense { throw ValidationError("--store must be bitmask, csr or nm (export writes sparse linears)") }
        guard let p = parsedPattern else { throw ValidationError("--pattern must be N:M, e.g. 2:4 (got \(pattern ?? ""))") }
        if case .nOfM(let n, let m) = p, n < 1 || n >= m { throw ValidationError("--pattern \(pattern ?? ""): need 1 <= N < M") }
        if store.encoding(pattern: p) == nil {
            throw ValidationError("--store nm needs --pattern N:M (the nm encoding stores M - N weights of every M)")
        }
        if let dtype, StorageDType(shortName: dtype) == nil { throw ValidationError("--dtype must be f32, f16 or bf16 (got \(dtype))") }
    }

    func run() throws {
        try runReportingErrors {
            let path = input ?? modelOptions.resolvedPath()
            if format == .hf {
                try HFConverter.export(from: path, to: output, like: like, dtype: dtype.flatMap(StorageDType.init(shortName:)),
                                       maxShardBytes: maxShardBytes, residency: modelOptions.residency)
                let files = (try? FileManager.default.contentsOfDirectory(atPath: output).sorted()) ?? []
                if modelOptions.json { printJSON(["output": output, "format": format.rawValue, "files": files]) }
                else { print("wrote \(output): \(files.joined(separator: ", "))") }
                return
            }
            let loaded = try ModelFile.open(path, residency: modelOptions.residency)
            if loaded.isStreamed && !modelOptions.json { log("streaming \(path) block by block") }
            let encoding = store.encoding(pattern: parsedPattern!)!
            try ModelFile.exportSparse(loaded, from: path, to: output, encoding: encoding, dtype: dtype.flatMap(StorageDType.init(shortName:)))
            let written = try CheckpointReader.inspect(path: output)
            let linears = written.blockLinearBytes
            let ratio = Double(linears.stored) / Double(max(1, linears.dense))
            if modelOptions.json {
                printJSON(["output": output, "format": format.rawValue, "store": encoding.storeName, "file_bytes": written.fileSize,
                           "block_linears": ["stored_bytes": linears.stored, "dense_bytes": linears.dense, "ratio": ratio] as [String: Any]])
            } else {
                print(String(format: "wrote %@: block linears stored %@, %.2f MiB (%.3f of %.2f MiB dense); file %.2f MiB",
                             output, encoding.description, Double(linears.stored) / 1_048_576, ratio,
                             Double(linears.dense) / 1_048_576, Double(written.fileSize) / 1_048_576))
            }
        }
    }
}
