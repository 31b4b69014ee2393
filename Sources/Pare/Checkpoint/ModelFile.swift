import Foundation

/// Whether a model's weights are held in memory or streamed from the file block by block.
public enum Residency: String, CaseIterable, Sendable {
    case auto, resident, streamed
}

/// A model opened from a pare-dlm file: its header, its weights (resident or streamed) and
/// its tokenizer.
public struct LoadedModel: Sendable {
    public let header: CheckpointHeader
    /// The weights; `--kernels` replaces them with their placed form, so that the file's
    /// dense form is not kept beside it.
    public var weights: any ModelWeights
    public let tokenizer: any Tokenizer
    public var isStreamed: Bool { weights is StreamedModel }
    public var config: ModelConfig { header.config }
}

/// Model I/O: opening a file resident or streamed, and writing a model (or a transformed copy
/// of one) block by block with its provenance. `prune`, `drop` and `init` all write through here.
public enum ModelFile {
    /// Opens and validates `path`. `.auto` streams when the weights would take more than half
    /// of the memory available now. Sparse-encoded block linears load as sparse linears.
    public static func open(_ path: String, residency: Residency = .auto) throws -> LoadedModel {
        let reader = try CheckpointReader(path: path)
        let header = reader.header
        // Tokenizer files Pare cannot run (`pare convert` stores them with a warning) leave the
        // model usable on token ids; encoding text then fails with the reason.
        let tokenizer: any Tokenizer
        do {
            tokenizer = try makeTokenizer(header)
        } catch let error as CheckpointError {
            tokenizer = UnusableTokenizer(vocabularySize: header.config.vocabSize, reason: error.description)
        }
        let stream: Bool
        switch residency {
        case .resident: stream = false
        case .streamed: stream = true
        case .auto: stream = !fitsInMemory(header)
        }
        if stream { return LoadedModel(header: header, weights: try StreamedModel(reader: reader), tokenizer: tokenizer) }
        let model = try LLaDAModel(reader: reader)
        return LoadedModel(header: header, weights: model, tokenizer: tokenizer)
    }

    /// The header's stored tokenizer, built (no weight is read); a tokenizer Pare cannot use is
    /// reported as a bad tokenizer of the file.
    public static func makeTokenizer(_ header: CheckpointHeader) throws -> any Tokenizer {
        do {
            return try header.tokenizer.makeTokenizer(vocabularySize: header.config.vocabSize)
        } catch let error as TokenizerError {
            throw CheckpointError.badTokenizer(file: header.path, reason: error.description)
        }
    }

    /// True when the model's weights, as loaded (fp32; sparse-encoded linears in the bitmask
    /// format), fit in half of the memory available.
    public static func fitsInMemory(_ header: CheckpointHeader) -> Bool {
        guard let available = availableMemoryBytes() else { return true }
        return Double(header.residentBytes) <= 0.5 * Double(available)
    }

    /// Writes a model to `path`, tensor by tensor: embedding, blocks, final norm, head, each
    /// stored in `dtype(key)`, the block linears in `linearEncoding`.
    public static func write(_ weights: any ModelWeights, tokenizer: StoredTokenizer, to path: String,
                             dtype: @escaping (String) -> StorageDType, linearEncoding: TensorEncoding = .dense,
                             provenance: () -> [String]) throws {
        try write(weights, tokenizer: tokenizer, to: path, dtype: dtype, linearEncoding: linearEncoding, blocks: { emit in
            for i in 0..<weights.blockCount { try emit(i, try weights.block(i)) }
        }, provenance: provenance)
    }

    /// Writes a model whose blocks are made as they are written: `blocks` hands each output
    /// block to its `emit` argument in order 0, 1, ... (a pruner does its work there).
    /// `provenance` is asked for after the last block, so it can record what that work measured.
    /// The seven linears of every block are stored in `linearEncoding` (docs/format.md).
    public static func write(_ weights: any ModelWeights, tokenizer: StoredTokenizer, to path: String,
                             dtype: @escaping (String) -> StorageDType, linearEncoding: TensorEncoding = .dense,
                             blocks: (_ emit: (Int, LLaDABlock) throws -> Void) throws -> Void,
                             provenance: () -> [String]) throws {
        let config = weights.config
        let writer = try ModelWriter(path: path, config: config, tokenizer: tokenizer, dtype: dtype)
        // The embedding and the head are copied in slabs of rows: a large vocabulary never has
        // to be whole in memory.
        let slab = max(1, (16 << 20) / max(1, 4 * config.dModel))
        try writer.write(GlobalTensor.wte.key, rowsPerSlab: slab) { try weights.rows(of: .wte, in: $0) }
        var next = 0
        let emit: (Int, LLaDABlock) throws -> Void = { index, block in
            precondition(index == next, "ModelFile.write: block \(index) emitted out of order")
            try writer.writeBlock(block, index: index, linearEncoding: linearEncoding)
            next += 1
        }
        try blocks(emit)
        if next != config.nLayers { throw CheckpointError.writeFailed(file: path, reason: "\(next) of \(config.nLayers) blocks were made") }
        try writer.write(GlobalTensor.lnF.key, try weights.finalNorm())
        try writer.write(GlobalTensor.head.key, rowsPerSlab: slab) { try weights.rows(of: .head, in: $0) }
        try writer.finish(provenance: provenance())
    }

    /// Re-writes a model with its block linears in a sparse `encoding` (`pare export --format
    /// sparse-h5`), block by block, each tensor in `dtype` or, when nil, its source precision.
    /// The provenance gains an "export" entry naming the source file.
    public static func exportSparse(_ source: LoadedModel, from sourcePath: String, to path: String,
                                    encoding: TensorEncoding, dtype: StorageDType? = nil) throws {
        var entry: [String: Any] = ["op": "export", "format": "sparse-h5", "store": encoding.storeName,
                                    "source": URL(fileURLWithPath: sourcePath).lastPathComponent]
        if case .nOfM(let n, let m) = encoding { entry["n"] = n; entry["m"] = m }
        if let dtype { entry["dtype"] = dtype.rawValue }
        let stored = dtypes(like: source.header)
        try write(source.weights, tokenizer: source.header.tokenizer, to: path, dtype: { dtype ?? stored($0) },
                  linearEncoding: encoding, provenance: { source.header.provenance + [Checkpoint.provenanceEntry(entry)] })
    }

    /// `write(_:tokenizer:...)` with a character tokenizer (tests and synthetic models).
    public static func write(_ weights: any ModelWeights, vocab: [String], to path: String,
                             dtype: @escaping (String) -> StorageDType, linearEncoding: TensorEncoding = .dense,
                             provenance: () -> [String]) throws {
        try write(weights, tokenizer: .char(vocab: vocab), to: path, dtype: dtype, linearEncoding: linearEncoding,
                  provenance: provenance)
    }

    /// The encoding a transformed copy keeps for its block linears: the source's, when all of
    /// them share one (a bitmask file stays bitmask after `drop`), else dense. An N:M encoding is
    /// kept only by operations that cannot add weights, which is every operation that uses this.
    public static func linearEncoding(like header: CheckpointHeader) -> TensorEncoding {
        let encodings = Set(header.tensors.filter { BlockLinear.parse(key: $0.name) != nil }.map(\.encoding))
        return encodings.count == 1 ? encodings.first! : .dense
    }

    /// The storage precision of every tensor of an output model, taken from the tensor it came
    /// from in the source file; `sourceBlock` maps an output block index to the source's
    /// (block dropping renumbers).
    public static func dtypes(like header: CheckpointHeader, sourceBlock: @escaping (Int) -> Int = { $0 })
        -> (String) -> StorageDType {
        let stored = header.storedDTypes
        let prefix = "model.transformer.blocks."
        return { key in
            guard key.hasPrefix(prefix) else { return stored[key] ?? .float32 }
            let rest = key.dropFirst(prefix.count)
            guard let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]) else { return .float32 }
            return stored[prefix + "\(sourceBlock(index))" + rest[dot...]] ?? .float32
        }
    }

    /// MemAvailable from /proc/meminfo, in bytes; nil where unavailable.
    public static func availableMemoryBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            return line.split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
        }
        return nil
    }
}
