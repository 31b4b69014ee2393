import CHDF5

/// Tells "the config is wrong" apart from "a tensor is wrong".
///
/// When a tensor's shape disagrees with `/config`, either could be at fault. This check reads the
/// dimensions the tensors themselves imply (vocab_size and d_model from wte, n_layers from the
/// blocks present, d_ff from ff_proj, n_kv_heads from k_proj). If that implied config differs from
/// `/config`, is valid, and every tensor of the file fits it, the tensors agree with each other and
/// the config is the odd one out: a `.configMismatch` naming the attribute. Otherwise the
/// per-tensor checks that follow report the first bad tensor.
struct TensorLayoutCheck {
    let parser: CheckpointHeaderParser
    let config: ModelConfig

    private struct Evidence {
        var implied: ModelConfig
        var reasons: [ModelConfig.CodingKeys: String] = [:]
    }

    func checkConfigAgreesWithTensors() throws {
        guard let evidence = try impliedConfig(), evidence.implied != config,
              evidence.implied.problem() == nil, try fileFits(evidence.implied) else { return }
        let candidates: [(ModelConfig.CodingKeys, KeyPath<ModelConfig, Int>)] = [
            (.vocabSize, \.vocabSize), (.dModel, \.dModel), (.nLayers, \.nLayers), (.dFF, \.dFF), (.nKVHeads, \.nKVHeads),
        ]
        for (key, keyPath) in candidates where config[keyPath: keyPath] != evidence.implied[keyPath: keyPath] {
            throw CheckpointError.configMismatch(file: parser.path, attribute: key.rawValue,
                                                 configValue: config[keyPath: keyPath],
                                                 impliedValue: evidence.implied[keyPath: keyPath],
                                                 evidence: evidence.reasons[key] ?? "the tensors")
        }
    }

    private func impliedConfig() throws -> Evidence? {
        let wte = "model.transformer.wte.weight"
        guard let wteShape = try parser.shape(of: Checkpoint.datasetPath(for: wte)), wteShape.count == 2,
              let vocab = Int32(exactly: wteShape[0]), let dModel = Int32(exactly: wteShape[1]) else { return nil }
        var evidence = Evidence(implied: config)
        evidence.implied.vocabSize = Int(vocab)
        evidence.implied.dModel = Int(dModel)
        evidence.reasons[.vocabSize] = "\(wte) has shape \(wteShape)"
        evidence.reasons[.dModel] = evidence.reasons[.vocabSize]

        let layers = try blockCount()
        evidence.implied.nLayers = layers
        evidence.reasons[.nLayers] = layers == 0 ? "model.transformer has no blocks"
            : "model.transformer.blocks holds blocks 0...\(layers - 1)"
        guard layers > 0 else { return evidence }

        let ffProj = "model.transformer.blocks.0.ff_proj.weight"
        if let shape = try parser.declaredShape(of: Checkpoint.datasetPath(for: ffProj)), shape.count == 2 {
            evidence.implied.dFF = shape[0]
            evidence.reasons[.dFF] = "\(ffProj) has shape \(shape)"
        }
        let kProj = "model.transformer.blocks.0.k_proj.weight"
        let headDim = evidence.implied.nHeads > 0 ? evidence.implied.dModel / evidence.implied.nHeads : 0
        if let shape = try parser.declaredShape(of: Checkpoint.datasetPath(for: kProj)), shape.count == 2,
           headDim > 0, shape[0] % headDim == 0 {
            evidence.implied.nKVHeads = shape[0] / headDim
            evidence.reasons[.nKVHeads] = "\(kProj) has shape \(shape)"
        }
        return evidence
    }

    /// Blocks 0, 1, ... present under /model/transformer/blocks, counted up to the first gap.
    private func blockCount() throws -> Int {
        let blocks = "/model/transformer/blocks"
        guard try parser.reading(blocks, { try parser.file.exists(blocks) && parser.file.objectKind(blocks) == H5I_GROUP })
        else { return 0 }
        let names = Set(try parser.reading(blocks) { try parser.file.openGroup(blocks).childNames() })
        var count = 0
        while count < ModelConfig.maxLayers, names.contains(String(count)) { count += 1 }
        return count
    }

    /// True when every tensor `implied` calls for is a dataset, or a sparse group, of the right shape.
    private func fileFits(_ implied: ModelConfig) throws -> Bool {
        for (name, shape) in implied.expectedTensors where try parser.declaredShape(of: Checkpoint.datasetPath(for: name)) != shape {
            return false
        }
        return true
    }
}
