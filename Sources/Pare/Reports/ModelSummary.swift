import Foundation

/// What `pare inspect` reports about a model file.
public struct ModelSummary {
    public let path: String
    public let config: ModelConfig
    public let parameters: Int
    /// Fraction of exact zeros over the seven block linears (the prunable weights).
    public let overallSparsity: Double
    /// The same per block.
    public let blockSparsity: [Double]
    public let provenance: [String]
    /// Parameters per storage precision (float32, float16, bfloat16) and the file's size.
    public let storage: [String: Int]
    public let fileSize: Int

    /// Reads one block at a time, so a model larger than memory can be inspected.
    public init(path: String, header: CheckpointHeader, model: any ModelWeights) throws {
        self.path = path
        config = model.config
        parameters = model.parameterCount
        var zeros = 0, total = 0
        var perBlock: [Double] = []
        for i in 0..<model.blockCount {
            let block = try model.block(i)
            var z = 0, n = 0
            for linear in BlockLinear.allCases {
                let w = block[linear].weight
                z += Int((w.sparsity * Double(w.count)).rounded())
                n += w.count
            }
            perBlock.append(n > 0 ? Double(z) / Double(n) : 0)
            zeros += z; total += n
        }
        overallSparsity = total > 0 ? Double(zeros) / Double(total) : 0
        blockSparsity = perBlock
        provenance = header.provenance
        storage = header.tensors.reduce(into: [:]) { $0[$1.dtype.rawValue, default: 0] += $1.count }
        fileSize = header.fileSize
    }

    /// The `inspect` JSON object (README "JSON output").
    public var json: [String: Any] {
        var cfg: [String: Any] = [:]
        if let data = try? JSONEncoder().encode(config),
           let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] { cfg = obj }
        let history: [Any] = provenance.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
        return ["path": path, "config": cfg, "parameters": parameters,
                "sparsity": ["overall": overallSparsity, "blocks": blockSparsity] as [String: Any],
                "provenance": history, "storage": storage, "file_bytes": fileSize]
    }

    public var text: String {
        var lines = ["\(path)",
                     "  architecture \(config.architecture): \(config.nLayers) blocks, d_model \(config.dModel), "
                     + "\(config.nHeads) heads (\(config.nKVHeads) kv), d_ff \(config.dFF), vocab \(config.vocabSize), "
                     + "max_seq_len \(config.maxSeqLen)",
                     "  parameters \(parameters), stored as "
                     + storage.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                     + String(format: "; file %.1f MiB", Double(fileSize) / 1_048_576),
                     String(format: "  sparsity of block linears: %.2f %%", overallSparsity * 100)]
        if overallSparsity > 0 {
            lines.append("  per block: " + blockSparsity.map { String(format: "%.1f%%", $0 * 100) }.joined(separator: " "))
        }
        lines.append("  provenance:")
        lines += provenance.isEmpty ? ["    (none)"] : provenance.map { "    " + $0 }
        return lines.joined(separator: "\n")
    }
}
