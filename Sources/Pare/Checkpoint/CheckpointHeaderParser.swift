import CHDF5

/// Reads and validates everything in a pare-dlm file but the tensor values (docs/format.md).
/// The vocabulary's string heap is verified first, before HDF5 dereferences any
/// variable-length string; then the checks run in the order that gives the most useful first
/// error: format, config, tensors (a config that disagrees with consistent tensors before
/// per-tensor errors), tokenizer, provenance.
struct CheckpointHeaderParser {
    let path: String
    let file: H5Handle
    let superblock: HDF5Preflight.Report

    func parse() throws -> CheckpointHeader {
        try checkVocabularyHeap()
        try checkFormat()
        let config = try readConfig()
        try TensorLayoutCheck(parser: self, config: config).checkConfigAgreesWithTensors()
        let tensors = try readTensorInfo(config)
        try checkNothingUnexpected(config)
        return CheckpointHeader(path: path, fileSize: superblock.fileSize, config: config, tokenizer: try readTokenizer(config),
                                provenance: try readProvenance(), tensors: tensors,
                                checksummed: superblock.superblockVersion >= 2 && tensors.allSatisfy(\.checksummed))
    }

    // MARK: Error mapping

    /// Runs an HDF5 operation on `object`, turning low-level failures into `.corrupt`.
    func reading<T>(_ object: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let problem as HDF5Problem {
            throw CheckpointError.corrupt(file: path, object: object, reason: problem.summary)
        }
    }

    /// The attribute `name` of `object` (at `objectPath`), with failures named after it.
    func attribute(_ name: String, of object: H5Handle, at objectPath: String) throws -> AttributeValue? {
        do {
            return try object.readAttribute(name)
        } catch let failure as HDF5Failure {
            throw CheckpointError.corrupt(file: path, object: "\(objectPath) attribute \(name)", reason: failure.summary)
        } catch let problem as H5ContentProblem {
            throw CheckpointError.badAttribute(file: path, object: objectPath, attribute: name, reason: problem.summary)
        }
    }

    /// Opens the group at `groupPath`, or returns nil when there is none.
    func group(_ groupPath: String) throws -> H5Handle? {
        try reading(groupPath) {
            guard try file.exists(groupPath), try file.objectKind(groupPath) == H5I_GROUP else { return nil }
            return try file.openGroup(groupPath)
        }
    }

    func isDataset(_ datasetPath: String) throws -> Bool {
        try reading(datasetPath) { try file.exists(datasetPath) && file.objectKind(datasetPath) == H5I_DATASET }
    }

    /// The shape of the dataset at `datasetPath`, or nil when there is no dataset there.
    func shape(of datasetPath: String) throws -> [Int]? {
        guard try isDataset(datasetPath) else { return nil }
        return try reading(datasetPath) { try file.openDataset(datasetPath).shape() }
    }

    /// Bytes a dataset of `shape` declares, saturating at UInt64.max: a file may declare
    /// absurd extents, which must read as "more than the file stores", not overflow.
    static func declaredBytes(_ shape: [Int], elementBytes: Int) -> UInt64 {
        var total = UInt64(max(0, elementBytes))
        for dim in shape {
            let (product, overflow) = total.multipliedReportingOverflow(by: UInt64(max(0, dim)))
            if overflow { return .max }
            total = product
        }
        return total
    }

    func isGroup(_ groupPath: String) throws -> Bool {
        try reading(groupPath) { try file.exists(groupPath) && file.objectKind(groupPath) == H5I_GROUP }
    }

    /// The shape a tensor claims: a dataset's extent, or a sparse group's `shape` attribute
    /// (nil when there is neither, or the attribute is unreadable; the per-tensor checks report
    /// why later).
    func declaredShape(of tensorPath: String) throws -> [Int]? {
        if let shape = try shape(of: tensorPath) { return shape }
        guard try isGroup(tensorPath) else { return nil }
        guard let values = try? reading(tensorPath, { try file.openGroup(tensorPath).readIntegerList("shape") }) else {
            return nil
        }
        return values.allSatisfy({ $0 >= 0 && $0 <= Int64(Int32.max) }) ? values.map { Int($0) } : nil
    }

    // MARK: Sections

    /// Variable-length strings live in HDF5's global heap, which has no checksum and which HDF5
    /// 1.10 trusts blindly (fuzzing found hangs and segfaults from single flipped bits there).
    /// Before any string is read, the vocabulary's heap references and the heap collections they
    /// point into are checked byte by byte.
    private func checkVocabularyHeap() throws {
        let vocab = "/tokenizer/vocab"
        guard try isDataset(vocab) else { return }  // reported later, with the other tokenizer checks
        let layout = try reading(vocab) { try file.openDataset(vocab).variableStringLayout() }
        guard let layout else { return }
        do {
            try HDF5GlobalHeapCheck(path: path, superblock: superblock).checkStrings(layout)
        } catch let damage as HDF5GlobalHeapCheck.Damage {
            throw CheckpointError.badTokenizer(file: path, reason: "vocab strings are damaged: \(damage.reason)")
        }
    }

    private func checkFormat() throws {
        guard let root = try group("/") else { throw CheckpointError.missingGroup(file: path, group: "/") }
        switch try attribute("format", of: root, at: "/") {
        case .string("pare-dlm"): break
        case .string(let other): throw CheckpointError.wrongFormat(file: path, found: other)
        case let other?: throw CheckpointError.wrongFormat(file: path, found: other.description)
        case nil: throw CheckpointError.wrongFormat(file: path, found: nil)
        }
        switch try attribute("format_version", of: root, at: "/") {
        case .int(1): break
        case let other: throw CheckpointError.wrongVersion(file: path, found: other?.description)
        }
    }

    private func readConfig() throws -> ModelConfig {
        guard let group = try group("/config") else { throw CheckpointError.missingGroup(file: path, group: "/config") }
        let config: ModelConfig
        do {
            config = try ModelConfig.fromAttributes { try attribute($0, of: group, at: "/config") }
        } catch ModelConfig.AttributeProblem.missing(let name) {
            throw CheckpointError.missingAttribute(file: path, object: "/config", attribute: name)
        } catch ModelConfig.AttributeProblem.bad(let name, let reason) {
            throw CheckpointError.badAttribute(file: path, object: "/config", attribute: name, reason: reason)
        }
        if let problem = config.problem() { throw CheckpointError.inconsistentConfig(file: path, problem: problem) }
        return config
    }

    private func readTensorInfo(_ config: ModelConfig) throws -> [TensorInfo] {
        try config.expectedTensors.map { name, expected in
            let datasetPath = Checkpoint.datasetPath(for: name)
            guard try reading(name, { try file.exists(datasetPath) }) else {
                throw CheckpointError.missingTensor(file: path, tensor: name)
            }
            guard try isDataset(datasetPath) else {
                // A block linear may be stored sparse, as a group (docs/format.md, "Sparse tensors").
                if BlockLinear.parse(key: name) != nil, try isGroup(datasetPath) {
                    return try sparseTensorInfo(name, expected: expected)
                }
                throw CheckpointError.wrongDType(file: path, tensor: name, found: "a group or link, not a dataset")
            }
            let (shape, stored, checksummed, marker, storage, chunks) = try reading(name) {
                let dataset = try file.openDataset(datasetPath)
                return (try dataset.shape(), try dataset.storedElement(), try dataset.isChecksummed(),
                        try? dataset.readAttribute(StorageDType.bfloat16Attribute.name), try dataset.storage(),
                        try dataset.chunkCoverage())
            }
            guard shape == expected else {
                throw CheckpointError.wrongShape(file: path, tensor: name, shape: shape, expected: expected)
            }
            // Compressed data can be any size, so a compressed tensor is checked by its chunks:
            // a 6 MB file declaring gigabytes of unwritten chunks would otherwise be allocated
            // in full when read.
            if let chunks, chunks.written < chunks.needed {
                throw CheckpointError.corrupt(file: path, object: "tensor \(name)",
                                              reason: "the file stores \(chunks.written) of its \(chunks.needed) chunks (data never written)")
            }
            // Checked before any value is read, so a small file that declares huge tensors is an
            // error, not an allocation of their declared size.
            if case .scalar(let scalar) = stored, storage.uncompressed {
                let needed = Self.declaredBytes(shape, elementBytes: scalar.byteCount)
                if storage.bytes < needed {
                    throw CheckpointError.corrupt(file: path, object: "tensor \(name)",
                                                  reason: "the file stores \(storage.bytes) of its \(needed) bytes (data never written)")
                }
            }
            let bytes = Int(clamping: storage.bytes)
            switch stored {
            case .scalar(.float32):
                return TensorInfo(name: name, shape: shape, dtype: .float32, checksummed: checksummed, storedBytes: bytes)
            case .scalar(.float16):
                return TensorInfo(name: name, shape: shape, dtype: .float16, checksummed: checksummed, storedBytes: bytes)
            case .scalar(.uint16) where marker == .string(StorageDType.bfloat16Attribute.value):
                return TensorInfo(name: name, shape: shape, dtype: .bfloat16, checksummed: checksummed, storedBytes: bytes)
            case .scalar(.uint16):
                throw CheckpointError.wrongDType(file: path, tensor: name,
                                                 found: "uint16 without the attribute dtype = \"bfloat16\"")
            default: throw CheckpointError.wrongDType(file: path, tensor: name, found: stored.description)
            }
        }
    }

    /// Every object under /model must be one of the config's tensors. Only groups on the way to an
    /// expected tensor are entered, so the walk is bounded by the config even if links loop.
    private func checkNothingUnexpected(_ config: ModelConfig) throws {
        let expected = Set(config.expectedTensors.map { Checkpoint.datasetPath(for: $0.name) })
        var groups: Set<String> = []
        for datasetPath in expected {
            var components = datasetPath.split(separator: "/").dropLast()
            while !components.isEmpty {
                groups.insert("/" + components.joined(separator: "/"))
                components = components.dropLast()
            }
        }
        func visit(_ groupPath: String) throws {
            let children = try reading(groupPath) { try file.openGroup(groupPath).childNames() }
            for child in children {
                let childPath = groupPath + "/" + child
                if expected.contains(childPath) { continue }
                let isGroup = try reading(childPath) { try file.objectKind(childPath) == H5I_GROUP }
                guard groups.contains(childPath), isGroup else {
                    let name = childPath.dropFirst().replacingOccurrences(of: "/", with: ".")
                    throw CheckpointError.unexpectedTensor(file: path, tensor: name)
                }
                try visit(childPath)
            }
        }
        try visit("/model")
    }

    private func badTokenizer(_ reason: String) -> CheckpointError { .badTokenizer(file: path, reason: reason) }

    private func readTokenizer(_ config: ModelConfig) throws -> StoredTokenizer {
        guard let tokenizer = try group("/tokenizer") else { throw badTokenizer("group /tokenizer is missing") }
        switch try attribute("kind", of: tokenizer, at: "/tokenizer") {
        case .string("char"): return .char(vocab: try readVocab(config, tokenizer))
        case .string("bpe"): return .bpe(try readHFFiles())
        case let other?: throw badTokenizer("kind is \(other), expected \"char\" or \"bpe\"")
        case nil: throw badTokenizer("attribute kind is missing")
        }
    }

    /// The HF tokenizer files of a `bpe` tokenizer: one uint8 dataset per file under
    /// `/tokenizer/files`, each checked against its `crc32` attribute, sizes bounded before reading.
    private func readHFFiles() throws -> HFTokenizerFiles {
        let folder = "/tokenizer/files"
        guard try isGroup(folder) else { throw badTokenizer("kind is \"bpe\" but group \(folder) is missing") }
        let names = try reading(folder) { try file.openGroup(folder).childNames() }
        var files: [String: [UInt8]] = [:]
        for name in names {
            let datasetPath = StoredTokenizer.filePath(name)
            func bad(_ reason: String) -> CheckpointError { badTokenizer("\(datasetPath.escapedForOneLine) \(reason)") }
            guard HFTokenizerFiles.names.contains(name) else {
                throw bad("is not a tokenizer file Pare keeps (\(HFTokenizerFiles.names.joined(separator: ", ")))")
            }
            guard try isDataset(datasetPath) else { throw bad("is not a dataset") }
            let dataset = try reading(datasetPath) { try file.openDataset(datasetPath) }
            let (shape, stored, storage) = try reading(datasetPath) {
                (try dataset.shape(), try dataset.storedElement(), try dataset.storage())
            }
            guard shape.count == 1 else { throw bad("has shape \(shape), expected one dimension of bytes") }
            guard stored == .scalar(.uint8) else { throw bad("holds \(stored.description), expected uint8 bytes") }
            guard shape[0] <= HFTokenizerFiles.maxFileBytes else {
                throw bad("declares \(shape[0]) bytes, more than the \(HFTokenizerFiles.maxFileBytes) a tokenizer file may have")
            }
            if storage.uncompressed, storage.bytes < UInt64(shape[0]) {
                throw bad("stores \(storage.bytes) of its \(shape[0]) bytes (data never written)")
            }
            let bytes: [UInt8]
            do {
                bytes = try dataset.readElements(as: .uint8, UInt8.self)
            } catch let problem as HDF5Problem {
                throw bad("cannot be read: \(problem.summary)")
            }
            switch try attribute("crc32", of: dataset, at: datasetPath) {
            case .int(let crc) where crc == Int64(CRC32.checksum(bytes)): break
            case .int: throw bad("does not match its crc32 checksum (damaged bytes)")
            case let other?: throw bad("crc32 is \(other), expected an integer")
            case nil: throw bad("has no crc32 attribute")
            }
            files[name] = bytes
        }
        do {
            return try HFTokenizerFiles(files: files)
        } catch let problem as HFTokenizerFiles.Problem {
            throw badTokenizer("\(folder): \(problem.reason)")
        }
    }

    private func readVocab(_ config: ModelConfig, _ tokenizer: H5Handle) throws -> [String] {
        let bad = badTokenizer
        guard let shape = try shape(of: "/tokenizer/vocab") else { throw bad("dataset /tokenizer/vocab is missing") }
        guard shape.count == 1 else { throw bad("vocab has shape \(shape), expected one dimension") }
        guard shape[0] == config.vocabSize else {
            throw bad("vocab has \(shape[0]) entries but /config vocab_size is \(config.vocabSize)")
        }
        let vocab: [String]
        do {
            vocab = try file.openDataset("/tokenizer/vocab").readStrings()
        } catch let problem as HDF5Problem {
            throw bad("cannot read vocab: \(problem.summary)")
        }
        // Optional (files written by other tools may lack it); Pare always writes it.
        switch try attribute("vocab_crc32", of: tokenizer, at: "/tokenizer") {
        case nil: break
        case .int(let crc) where crc == Int64(CRC32.vocabulary(vocab)): break
        case .int: throw bad("vocab does not match its vocab_crc32 checksum (damaged strings)")
        case let other?: throw bad("vocab_crc32 is \(other), expected an integer")
        }
        // The special ids must name the special entries: with mask_token_id on "a", decoding
        // would print masks as "a" and encoding "a" would feed the model a mask.
        for (id, name, expected) in [(config.maskTokenID, "mask_token_id", "<mask>"), (config.eosTokenID, "eos_token_id", "<eos>")]
            where vocab[id] != expected {
            throw bad("/config \(name) \(id) is the entry \"\(vocab[id].escapedForOneLine)\", expected \"\(expected)\"")
        }
        var seen = Set<String>()
        for (id, entry) in vocab.enumerated() where !seen.insert(entry).inserted {
            throw bad("vocab entry \(id) \"\(entry.escapedForOneLine)\" appears twice (a text must name one token)")
        }
        return vocab
    }

    private func readProvenance() throws -> [String] {
        guard let provenance = try group("/provenance") else { return [] }
        switch try attribute("history", of: provenance, at: "/provenance") {
        case nil:
            return []
        case .string(let text):
            do {
                return try ProvenanceHistory.split(text)
            } catch let problem as ProvenanceHistory.Problem {
                throw CheckpointError.badProvenance(file: path, reason: problem.reason)
            }
        case let other?:
            throw CheckpointError.badProvenance(file: path, reason: "history is \(other), expected JSON text")
        }
    }
}
