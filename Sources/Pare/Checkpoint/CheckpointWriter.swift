import Foundation

/// Writes a pare-dlm file tensor by tensor (docs/format.md), so a model never has to be whole
/// in memory to be saved: a pruner hands over each block as it finishes it.
///
///     let writer = try ModelWriter(path: out, config: config, tokenizer: .char(vocab: vocab), dtype: { _ in .bfloat16 })
///     try writer.write(GlobalTensor.wte.key, wte)      // any order
///     try writer.writeBlock(block, index: 0) ...
///     try writer.finish(provenance: history)            // checks completeness, then renames
///
/// Everything goes to a temporary name in the destination folder, and only `finish` renames it
/// into place, after HDF5 closed the file and its bytes were synced: a failure or an abandoned
/// writer never leaves a half-written model behind and never clobbers the previous file.
/// The path follows Pare's output rules (`OutputPath`): symlinks are written through, devices,
/// FIFOs and folders are refused with an `OutputPathError`.
public final class ModelWriter {
    public let path: String
    public let config: ModelConfig
    private let output: OutputPath
    // Internal rather than private: the sparse encodings are written in SparseTensorWriter.swift.
    var file: H5Handle?
    let expected: [String: [Int]]
    let dtype: (String) -> StorageDType
    var written: Set<String> = []

    /// Creates the temporary file and writes the format, config and tokenizer. `dtype` gives the
    /// storage precision of each tensor by key.
    public init(path: String, config: ModelConfig, tokenizer: StoredTokenizer, dtype: @escaping (String) -> StorageDType) throws {
        self.path = path
        self.config = config
        self.dtype = dtype
        if let problem = config.problem() { throw CheckpointError.writeFailed(file: path, reason: "inconsistent config: \(problem)") }
        if let vocab = tokenizer.charVocab, vocab.count != config.vocabSize {
            throw CheckpointError.writeFailed(file: path, reason: "vocab has \(vocab.count) entries but vocab_size is \(config.vocabSize)")
        }
        expected = Dictionary(uniqueKeysWithValues: config.expectedTensors.map { ($0.name, $0.shape) })
        output = try OutputPath(path)
        try attempt {
            let file = try output.createTemporary { try H5Handle.createFile($0) }
            self.file = file
            try file.writeAttribute("format", .string("pare-dlm"))
            try file.writeAttribute("format_version", .int(1))
            let group = try file.createGroup("/config")
            for (name, value) in config.attributes { try group.writeAttribute(name, value) }
            try group.close()
            try Self.writeTokenizer(tokenizer, in: file)
        }
    }

    /// `init(path:config:tokenizer:dtype:)` with a character tokenizer.
    public convenience init(path: String, config: ModelConfig, vocab: [String], dtype: @escaping (String) -> StorageDType) throws {
        try self.init(path: path, config: config, tokenizer: .char(vocab: vocab), dtype: dtype)
    }

    /// `/tokenizer` (docs/format.md): the `kind` attribute, then the vocabulary or the HF files.
    private static func writeTokenizer(_ tokenizer: StoredTokenizer, in file: H5Handle) throws {
        let group = try file.createGroup("/tokenizer")
        try group.writeAttribute("kind", .string(tokenizer.kind))
        switch tokenizer {
        case .char(let vocab):
            // An extension of the v1 layout: the vocabulary's strings sit in HDF5's unchecksummed
            // global heap, so a flipped bit there would silently change a token's text without this.
            try group.writeAttribute("vocab_crc32", .int(Int64(CRC32.vocabulary(vocab))))
            try group.close()
            try file.createStringDataset("/tokenizer/vocab", vocab)
        case .bpe(let files):
            try group.close()
            for name in files.orderedNames {
                let bytes = files.files[name]!
                // Chunked under Fletcher-32 like the tensors; the crc32 attribute also covers
                // files h5py wrote without the filter.
                let dataset = try file.createDataset(StoredTokenizer.filePath(name), of: .uint8, shape: [bytes.count])
                try bytes.withUnsafeBytes { try dataset.write($0, as: .uint8) }
                try dataset.writeAttribute("crc32", .int(Int64(CRC32.checksum(bytes))))
                try dataset.close()
            }
        }
    }

    deinit { abandon() }

    /// Writes one tensor under its HF key, checked against the config and the storage precision.
    public func write(_ key: String, _ tensor: Tensor) throws {
        guard let shape = expected[key] else { throw fail("tensor \(key) is not part of the config") }
        guard tensor.shape == shape else { throw fail("tensor \(key) has shape \(tensor.shape), expected \(shape)") }
        try write(key, rowsPerSlab: shape[0]) { _ in tensor }
    }

    /// Writes a tensor slab by slab: `slab(range)` returns its rows `range` [range.count, ...],
    /// so a large embedding or head is copied without ever being whole in memory.
    public func write(_ key: String, rowsPerSlab: Int, slab: (Range<Int>) throws -> Tensor) throws {
        guard let shape = expected[key] else { throw fail("tensor \(key) is not part of the config") }
        guard !written.contains(key) else { throw fail("tensor \(key) is written twice") }
        let storage = dtype(key)
        let rows = shape[0], cols = shape.dropFirst().reduce(1, *)
        var dataset: H5Handle?
        try attempt {
            guard let file else { throw H5ContentProblem("the writer is closed") }
            let created = try file.createDataset(Checkpoint.datasetPath(for: key), of: storage.scalar, shape: shape)
            if storage == .bfloat16 {
                try created.writeFixedStringAttribute(StorageDType.bfloat16Attribute.name, StorageDType.bfloat16Attribute.value)
            }
            dataset = created
        }
        for start in stride(from: 0, to: rows, by: max(1, rowsPerSlab)) {
            let range = start..<min(start + max(1, rowsPerSlab), rows)
            let tensor = try slab(range)
            guard tensor.count == range.count * cols else {
                throw fail("tensor \(key) rows \(range) hold \(tensor.count) values, expected \(range.count * cols)")
            }
            if let bad = Self.firstUnstorable(tensor.data, as: storage) {
                let value = tensor.data[bad], index = start * cols + bad
                throw fail(value.isFinite ? "tensor \(key) value \(value) at flat index \(index) overflows \(storage.rawValue)"
                                          : "tensor \(key) holds \(value) at flat index \(index)")
            }
            try attempt {
                guard let dataset else { throw H5ContentProblem("the writer is closed") }
                let whole = range.count == rows
                func put(_ bytes: UnsafeRawBufferPointer) throws {
                    if whole { try dataset.write(bytes, as: storage.scalar) }
                    else { try dataset.writeRows(bytes, start: start, rows: range.count, cols: cols, as: storage.scalar) }
                }
                if storage == .float32 {
                    try tensor.data.withUnsafeBytes(put)
                } else {
                    try HalfPrecision.narrow(tensor.data, bfloat: storage == .bfloat16).withUnsafeBytes(put)
                }
            }
        }
        try attempt { try dataset?.close() }
        written.insert(key)
    }

    /// Writes the tensors of block `index` in file order, its seven linears in
    /// `linearEncoding` (docs/format.md, "Sparse tensors"); norms and biases are always dense.
    public func writeBlock(_ block: LLaDABlock, index: Int, linearEncoding: TensorEncoding = .dense) throws {
        for part in LLaDABlock.fileOrder(biased: config.hasQKVBias) {
            switch part {
            case .norm(let norm): try write(part.key(block: index), block[norm])
            case .linear(let linear): try write(part.key(block: index), block[linear], encoding: linearEncoding)
            case .bias(let linear):
                guard let bias = block.biases[linear] else { throw fail("block \(index) has no \(linear.name) bias") }
                try write(part.key(block: index), bias)
            }
        }
    }

    /// The first value that is not finite or does not survive narrowing to `storage` as a
    /// finite number, or nil.
    static func firstUnstorable(_ values: [Float], as storage: StorageDType) -> Int? {
        values.withUnsafeBufferPointer { p in p.firstIndex { !$0.isFinite } }
            ?? (storage == .float32 ? nil : HalfPrecision.firstOverflow(values, bfloat: storage == .bfloat16))
    }

    /// Writes the provenance, checks that every tensor of the config was written, closes and
    /// syncs the file and renames it into place.
    public func finish(provenance: [String]) throws {
        if let missing = config.expectedTensors.first(where: { !written.contains($0.name) }) {
            throw fail("tensor \(missing.name) is missing")
        }
        let history: String
        do {
            history = try ProvenanceHistory.join(provenance)
        } catch let problem as ProvenanceHistory.Problem {
            throw fail("provenance \(problem.reason)")
        }
        try attempt {
            guard let file else { throw H5ContentProblem("the writer is closed") }
            let group = try file.createGroup("/provenance")
            try group.writeAttribute("history", .string(history))
            try group.close()
            self.file = nil
            try file.close()
            if let temporary = output.temporary { try Self.sync(temporary) }
            try output.commit()
        }
    }

    /// Drops the temporary file (a writer that is not finished leaves nothing behind).
    public func abandon() {
        if let file { try? file.close() }
        file = nil
        output.discard()
    }

    func fail(_ reason: String) -> CheckpointError { .writeFailed(file: path, reason: reason) }

    /// Runs HDF5 work; any failure abandons the file and becomes one `writeFailed` error.
    func attempt(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch {
            abandon()
            switch error {
            case let failure as HDF5Failure: throw fail(failure.description)
            case let problem as H5ContentProblem: throw fail(problem.description)
            case let e as CheckpointError: throw e
            case let e as OutputPathError: throw e
            default: throw fail("\(error)")
            }
        }
    }

    /// Forces the file's bytes to disk before the rename makes it visible under its real name.
    private static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw H5ContentProblem("cannot reopen \(path) to sync it") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw H5ContentProblem("cannot sync: \(String(cString: strerror(errno)))") }
    }
}

extension Checkpoint {
    /// Writes this checkpoint as a pare-dlm file (temporary name, then rename into place).
    ///
    /// - Parameter dtype: storage precision for every tensor; nil keeps each tensor's
    ///   `storedDTypes` entry (float32 when it has none), so a model loaded from a bfloat16 file
    ///   is written back as bfloat16.
    public func save(to path: String, dtype: StorageDType? = nil) throws {
        // Everything the reader would reject is caught before anything touches the disk.
        let expected = Set(config.expectedTensors.map(\.name))
        if let extra = tensors.keys.sorted().first(where: { !expected.contains($0) }) {
            throw CheckpointError.writeFailed(file: path, reason: "tensor \(extra) is not part of the config")
        }
        if let missing = config.expectedTensors.first(where: { tensors[$0.name] == nil }) {
            throw CheckpointError.writeFailed(file: path, reason: "tensor \(missing.name) is missing")
        }
        let stored = storedDTypes
        let writer = try ModelWriter(path: path, config: config, tokenizer: tokenizer) { dtype ?? stored[$0] ?? .float32 }
        // File order keeps each block's tensors together on disk for streaming reads.
        for (name, _) in config.expectedTensors { try writer.write(name, tensors[name]!) }
        try writer.finish(provenance: provenance)
    }
}
