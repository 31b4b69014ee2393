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
    /// The block linears stored in a sparse encoding (docs/format.md, "Sparse tensors").
    public let sparseTensors: [TensorInfo]
    /// Bytes the block linears take in the file, and stored dense in the same precisions.
    public let blockLinearBytes: (stored: Int, dense: Int)
    /// The stored tokenizer (docs/format.md, "/tokenizer").
    public let tokenizer: StoredTokenizer

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
                // Sparse linears know their zeros without a dense copy.
                let l = block[linear], count = l.outFeatures * l.inFeatures
                z += Int((l.sparsity * Double(count)).rounded())
                n += count
            }
            perBlock.append(n > 0 ? Double(z) / Double(n) : 0)
            zeros += z; total += n
        }
        overallSparsity = total > 0 ? Double(zeros) / Double(total) : 0
        blockSparsity = perBlock
        provenance = header.provenance
        storage = header.tensors.reduce(into: [:]) { $0[$1.dtype.rawValue, default: 0] += $1.count }
        fileSize = header.fileSize
        sparseTensors = header.tensors.filter { $0.encoding.isSparse }
        blockLinearBytes = header.blockLinearBytes
        tokenizer = header.tokenizer
    }

    /// The tokenizer's kind and its size (char) or its HF files (bpe).
    private var tokenizerJSON: [String: Any] {
        switch tokenizer {
        case .char(let vocab): return ["kind": tokenizer.kind, "entries": vocab.count]
        case .bpe(let files): return ["kind": tokenizer.kind, "files": files.orderedNames]
        }
    }

    private var tokenizerText: String {
        switch tokenizer {
        case .char(let vocab): return "char, \(vocab.count) entries"
        case .bpe(let files): return "bpe: " + files.orderedNames.joined(separator: ", ")
        }
    }

    /// Block linears per encoding, by short name (dense, csr, bitmask, nm); every other tensor
    /// is always dense.
    public var blockLinearEncodings: [String: Int] {
        var counts: [String: Int] = [:]
        let dense = config.nLayers * BlockLinear.allCases.count - sparseTensors.count
        if dense > 0 { counts["dense"] = dense }
        for t in sparseTensors { counts[t.encoding.storeName, default: 0] += 1 }
        return counts
    }

    private static func sparseJSON(_ t: TensorInfo) -> [String: Any] {
        var entry: [String: Any] = ["name": t.name, "encoding": t.encoding.storeName, "shape": t.shape,
                                    "dtype": t.dtype.rawValue, "stored_values": t.storedValues,
                                    "stored_bytes": t.storedBytes, "dense_bytes": t.byteCount]
        if case .nOfM(let n, let m) = t.encoding { entry["n"] = n; entry["m"] = m }
        return entry
    }

    /// The `inspect` JSON object (README "JSON output").
    public var json: [String: Any] {
        var cfg: [String: Any] = [:]
        if let data = try? JSONEncoder().encode(config),
           let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] { cfg = obj }
        let history: [Any] = provenance.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
        return ["path": path, "config": cfg, "parameters": parameters,
                "sparsity": ["overall": overallSparsity, "blocks": blockSparsity] as [String: Any],
                "provenance": history, "storage": storage, "file_bytes": fileSize,
                "sparse_tensors": sparseTensors.map(Self.sparseJSON), "tokenizer": tokenizerJSON,
                "block_linears": ["stored_bytes": blockLinearBytes.stored, "dense_bytes": blockLinearBytes.dense,
                                  "encodings": blockLinearEncodings] as [String: Any]]
    }

    public var text: String {
        var lines = ["\(path)",
                     "  architecture \(config.architecture): \(config.nLayers) blocks, d_model \(config.dModel), "
                     + "\(config.nHeads) heads (\(config.nKVHeads) kv), d_ff \(config.dFF), vocab \(config.vocabSize), "
                     + "max_seq_len \(config.maxSeqLen)",
                     "  tokenizer " + tokenizerText,
                     "  parameters \(parameters), stored as "
                     + storage.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                     + String(format: "; file %.1f MiB", Double(fileSize) / 1_048_576),
                     String(format: "  sparsity of block linears: %.2f %%", overallSparsity * 100)]
        if overallSparsity > 0 {
            lines.append("  per block: " + blockSparsity.map { String(format: "%.1f%%", $0 * 100) }.joined(separator: " "))
        }
        let mib = { (bytes: Int) in String(format: "%.2f MiB", Double(bytes) / 1_048_576) }
        let ratio = { (stored: Int, dense: Int) in String(format: "%.3f", Double(stored) / Double(max(1, dense))) }
        lines.append("  block linears in the file: \(mib(blockLinearBytes.stored)), \(ratio(blockLinearBytes.stored, blockLinearBytes.dense)) "
                     + "of their \(mib(blockLinearBytes.dense)) dense; stored as "
                     + blockLinearEncodings.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        if !sparseTensors.isEmpty {
            lines.append("  sparse tensors (encoding, stored values, bytes in the file, share of dense):")
            lines += sparseTensors.map { t in
                "    \(t.name)  \(t.encoding)  \(t.dtype.rawValue)  \(t.storedValues) values  \(t.storedBytes) bytes  "
                    + ratio(t.storedBytes, t.byteCount)
            }
        }
        lines.append("  provenance (whole entries with --json):")
        lines += provenance.isEmpty ? ["    (none)"] : provenance.enumerated().map { "    \($0 + 1). " + Self.summarize($1) }
        return lines.joined(separator: "\n")
    }

    /// One provenance entry on one readable line: its operation, then its scalar fields in
    /// order, with lists and objects (learning curves, task mixes, per-layer tables) counted
    /// rather than dumped.
    static func summarize(_ entry: String) -> String {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(entry.utf8))) as? [String: Any] else {
            return entry.escapedForOneLine
        }
        let op = object["op"] as? String ?? "?"
        let fields = object.keys.filter { $0 != "op" }.sorted().compactMap { key -> String? in
            switch object[key] {
            case is NSNull: return nil
            case let list as [Any]: return "\(key): \(list.count) entries"
            case let map as [String: Any]:
                let flat = map.keys.sorted().map { k in map[k].map { v -> String in
                    (v is [Any] || v is [String: Any]) ? k : "\(k) \(v)" } ?? k }
                return "\(key): {\(flat.joined(separator: ", "))}"
            case let value?: return "\(key) \(value)"
            case nil: return nil
            }
        }
        return (op + "  " + fields.joined(separator: ", ")).escapedForOneLine
    }
}
