import ArgumentParser
import Foundation
import Pare

/// Output formats of `pare export`.
enum ExportFormat: String, CaseIterable, ExpressibleByArgument {
    /// A pare-dlm file whose block linears are sparse-encoded groups (docs/format.md).
    case sparseH5 = "sparse-h5"
    /// A Hugging Face folder (safetensors + config): planned, not implemented yet.
    case hf
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model with its block linears sparse-encoded (--format sparse-h5).",
        discussion: "sparse-h5 is a pare-dlm file whose seven linears per block are stored bitmask, csr (the anndata CSR "
            + "encoding scipy reads) or nm; every Pare command loads it, the linears as sparse matrices. "
            + "--format hf is not supported yet.")

    @Argument(help: "Model file to export (or give --model).") var input: String?
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "sparse-h5 (hf is not supported yet).") var format: ExportFormat
    @Option(help: "Output file.") var output: String
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
            guard format == .sparseH5 else {
                throw CLIError("export --format \(format.rawValue) is not supported yet; use --format sparse-h5")
            }
            let path = input ?? modelOptions.resolvedPath()
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
