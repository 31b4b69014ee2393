import Foundation

/// `pare convert`: a Hugging Face LLaDA or Dream folder -> a pare-dlm file, and `pare export
/// --format hf`: back (docs/format.md, "Hugging Face folders").
///
/// Both work tensor by tensor, each tensor in slabs of rows, so memory holds one slab (16 MB of
/// fp32 by default) and never the model.
public enum HFConverter {
    /// Rows are copied in slabs of about this many fp32 bytes.
    static let slabBytes = 16 << 20

    /// What a conversion wrote.
    public struct Summary: Sendable {
        public let config: ModelConfig
        public let parameters: Int
        public let sourceFiles: Int
        /// Why Pare cannot encode text with the stored tokenizer files (nil when it can). The
        /// files are stored anyway, so the weights can still be pruned, exported and run on ids.
        public let tokenizerProblem: String?
    }

    /// Converts the folder `directory` into the pare-dlm file `output`. Each tensor keeps its
    /// stored precision unless `dtype` is given.
    @discardableResult
    public static func convert(directory: String, output: String, dtype: StorageDType? = nil) throws -> Summary {
        let (config, _) = try HFConfig.read(directory: directory)
        let arch = config.architecture
        let weights = try SafetensorsFolder(directory: directory)
        let tokenizer: HFTokenizerFiles
        do {
            tokenizer = try HFTokenizerFiles.read(directory: directory)
        } catch let problem as HFTokenizerFiles.Problem {
            throw HFError(file: directory, "tokenizer: \(problem.reason)")
        }

        // Every tensor the config implies must be there with its shape, and nothing else may be
        // (a bias or extra layer Pare would silently drop changes the model).
        var source: [String: String] = [:]   // Pare name -> HF name
        for (name, shape) in config.expectedTensors {
            guard let hf = HFKeyMap.hfName(ofPare: name, architecture: arch) else {
                throw HFError(file: directory, "no \(arch) tensor name for \(name)")
            }
            let entry = try weights.entry(hf)
            guard entry.shape == shape else {
                throw HFError(file: weights.file(of: hf) ?? directory, "tensor \(hf) has shape \(entry.shape), the config implies \(shape)")
            }
            source[name] = hf
        }
        let used = Set(source.values)
        if let extra = weights.tensorNames.first(where: { !used.contains($0) && !isIgnorable($0) }) {
            throw HFError(file: weights.file(of: extra) ?? directory,
                          "tensor \(extra) is not part of a \(arch) model of this config (n_layers \(config.nLayers))")
        }

        let earlier = try readProvenance(directory: directory)
        let entry: [String: Any] = ["op": "convert", "source": URL(fileURLWithPath: directory).lastPathComponent,
                                    "architecture": arch, "files": weights.shards.count,
                                    "dtype": dtype?.rawValue ?? "as stored"]
        let writer = try ModelWriter(path: output, config: config, tokenizer: .bpe(tokenizer)) { name in
            if let dtype { return dtype }
            return (try? weights.entry(source[name]!).dtype.storage) ?? .float32
        }
        do {
            for (name, shape) in config.expectedTensors {
                let hf = source[name]!
                let rowValues = shape.dropFirst().reduce(1, *)
                try writer.write(name, rowsPerSlab: max(1, slabBytes / max(1, 4 * rowValues))) { range in
                    Tensor(shape: [range.count] + shape.dropFirst(), data: try weights.rows(of: hf, in: range))
                }
            }
            try writer.finish(provenance: earlier + [Checkpoint.provenanceEntry(entry)])
        } catch {
            writer.abandon()
            throw error
        }
        let parameters = config.expectedTensors.reduce(0) { $0 + $1.shape.reduce(1, *) }
        var tokenizerProblem: String?
        do {
            _ = try StoredTokenizer.bpe(tokenizer).makeTokenizer(vocabularySize: config.vocabSize)
        } catch {
            tokenizerProblem = "\(error)"
        }
        return Summary(config: config, parameters: parameters, sourceFiles: weights.shards.count, tokenizerProblem: tokenizerProblem)
    }

    /// The file in an exported folder that carries the model's provenance history (the JSON
    /// array of the `/provenance` `history` attribute, with the export appended), so a model
    /// converted back keeps what was done to it.
    public static let provenanceFileName = "pare_provenance.json"

    /// The provenance entries a folder carries (none without the file).
    static func readProvenance(directory: String) throws -> [String] {
        let path = directory + "/" + provenanceFileName
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let text = String(decoding: try readSmallFile(path, limit: 64 << 20), as: UTF8.self)
        do {
            return try ProvenanceHistory.split(text)
        } catch let problem as ProvenanceHistory.Problem {
            throw HFError(file: path, "is not a provenance history: \(problem.reason)")
        }
    }

    /// Buffers some checkpoints save that are recomputed at load (RoPE frequencies).
    static func isIgnorable(_ name: String) -> Bool { name.hasSuffix("rotary_emb.inv_freq") }

    // MARK: export

    /// Files of a `--like` folder never copied: the weights (written anew) and the config
    /// (rewritten from it).
    static func isWeightFile(_ name: String) -> Bool {
        name.hasSuffix(".safetensors") || name.hasSuffix(".bin") || name.hasSuffix(".pt") || name.hasSuffix(".pth")
            || name == SafetensorsFolder.indexName || name == "pytorch_model.bin.index.json" || name == "config.json"
            || name.hasSuffix(".h5") || name.hasSuffix(".msgpack") || name.hasSuffix(".gguf")
    }

    /// Writes the model at `path` as a Hugging Face folder `output`: config.json, safetensors
    /// shards of at most `maxShardBytes` with their index, the tokenizer files, and with `like`
    /// every other file of that folder (remote-code .py files, generation_config.json, ...), its
    /// config.json keys kept and only the shape keys updated. Sparse linears are written dense.
    /// The folder is built under a temporary name and renamed into place when complete.
    public static func export(from path: String, to output: String, like: String? = nil, dtype: StorageDType? = nil,
                              maxShardBytes: Int = 5_000_000_000, residency: Residency = .auto) throws {
        // Opened without its tokenizer: export copies the stored tokenizer files, never runs them.
        let reader = try CheckpointReader(path: path)
        let header = reader.header
        let stream = residency == .streamed || (residency == .auto && !ModelFile.fitsInMemory(header))
        let weights: any ModelWeights = stream ? try StreamedModel(reader: reader) : try LLaDAModel(reader: reader)
        let config = header.config
        let arch = config.architecture
        var likeConfig: [String: Any]?
        if let like {
            let (likeModel, raw) = try HFConfig.read(directory: like)
            guard likeModel.architecture == arch else {
                throw HFError(file: like + "/config.json", "is a \(likeModel.architecture) config but \(path) is a \(arch) model")
            }
            likeConfig = raw
        }
        let stored = header.storedDTypes
        func dtypeOf(_ name: String) -> SafetensorsDType { SafetensorsDType(dtype ?? stored[name] ?? .float32) }
        let items = config.expectedTensors.map { name, shape in
            SafetensorsWriter.Item(name: HFKeyMap.hfName(ofPare: name, architecture: arch)!, shape: shape, dtype: dtypeOf(name))
        }
        let pareName = Dictionary(uniqueKeysWithValues: config.expectedTensors.map { (HFKeyMap.hfName(ofPare: $0.name, architecture: arch)!, $0.name) })
        let configDType = dtype.map(SafetensorsDType.init) ?? dtypeOf(GlobalTensor.wte.key)

        let destination = try OutputPath(output, kind: .folder)
        do {
            let folder = try destination.createTemporaryFolder()
            if let like {
                for name in try FileManager.default.contentsOfDirectory(atPath: like).sorted()
                where !isWeightFile(name) && !name.hasPrefix(".") {
                    var isDir: ObjCBool = false
                    let source = like + "/" + name
                    guard FileManager.default.fileExists(atPath: source, isDirectory: &isDir), !isDir.boolValue else { continue }
                    try SafetensorsWriter.writeFile(folder + "/" + name, try readSmallFile(source, limit: 1 << 30))
                }
            }
            if case .bpe(let files) = header.tokenizer {
                for name in files.orderedNames { try SafetensorsWriter.writeFile(folder + "/" + name, Data(files.files[name]!)) }
            }
            // After the --like files, so a provenance file copied from there is replaced.
            let exportEntry: [String: Any] = ["op": "export", "format": "hf", "source": URL(fileURLWithPath: path).lastPathComponent,
                                              "dtype": dtype?.rawValue ?? "as stored"]
            let history = try ProvenanceHistory.join(header.provenance + [Checkpoint.provenanceEntry(exportEntry)])
            try SafetensorsWriter.writeFile(folder + "/" + provenanceFileName, Data(history.utf8))
            let json = HFConfig.json(for: config, like: likeConfig, dtype: configDType)
            try SafetensorsWriter.writeFile(folder + "/config.json",
                                            try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]))
            let writer = SafetensorsWriter(maxShardBytes: maxShardBytes, slabBytes: slabBytes)
            var cachedBlock: (index: Int, tensors: [String: Tensor])?
            try writer.write(items, into: folder) { hfName, range in
                let name = pareName[hfName]!
                if let g = GlobalTensor.allCases.first(where: { $0.key == name }) {
                    return g == .lnF ? Array(try weights.finalNorm().data[range]) : try weights.rows(of: g, in: range).data
                }
                // A block tensor: the block is read once for all of its tensors (file order).
                let (index, part) = HFKeyMap.split(name, prefix: HFKeyMap.pareBlockPrefix)!
                if cachedBlock?.index != index {
                    cachedBlock = nil
                    let block = try weights.block(index)
                    cachedBlock = (index, Dictionary(uniqueKeysWithValues: block.namedTensors(index: index).map { ($0.key, $0.tensor) }))
                }
                guard let t = cachedBlock!.tensors[name] else { throw HFError(file: path, "block \(index) has no \(part)") }
                let cols = t.shape.dropFirst().reduce(1, *)
                return Array(t.data[(range.lowerBound * cols)..<(range.upperBound * cols)])
            }
            try destination.commit()
        } catch {
            destination.discard()
            throw error
        }
    }
}
