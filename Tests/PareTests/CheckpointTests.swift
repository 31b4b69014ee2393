import Foundation
import Testing
@testable import Pare

// MARK: - Fixtures

/// SplitMix64: a tiny seeded generator so every fixture and fuzz case is reproducible.
private struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private let tinyConfig = ModelConfig(vocabSize: 16, dModel: 8, nLayers: 2, nHeads: 2, nKVHeads: 1, dFF: 12,
                                     maxSeqLen: 32, maskTokenID: 14, eosTokenID: 15)

private func makeCheckpoint(_ config: ModelConfig = tinyConfig, seed: UInt64 = 1) -> Checkpoint {
    var rng = SeededRNG(seed: seed)
    var tensors: [String: Tensor] = [:]
    for (name, shape) in config.expectedTensors {
        let count = shape.reduce(1, *)
        tensors[name] = Tensor(shape: shape, data: (0..<count).map { _ in Float.random(in: -2...2, using: &rng) })
    }
    let vocab = (0..<config.vocabSize).map { i in
        i == config.maskTokenID ? "<mask>" : i == config.eosTokenID ? "<eos>" : String(UnicodeScalar(UInt8(97 + i)))
    }
    return Checkpoint(config: config, vocab: vocab, tensors: tensors,
                      provenance: [#"{"op":"train","steps":10,"lr":0.001}"#])
}

/// A fresh directory per test (tests run in parallel).
private func scratchDirectory() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pare-ckpt-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

private func savedModel(_ checkpoint: Checkpoint = makeCheckpoint(), dtype: StorageDType? = nil) throws -> String {
    let path = try scratchDirectory() + "/model.h5"
    try checkpoint.save(to: path, dtype: dtype)
    return path
}

/// A saved tiny model, changed by `damage` through the low-level HDF5 wrapper.
private func damagedModel(_ damage: (H5Handle) throws -> Void) throws -> String {
    let path = try savedModel()
    let file = try H5Handle.openFile(path, writable: true)
    try damage(file)
    try file.close()
    return path
}

/// Replaces (or adds) the dataset at `path`: one of `scalar` type holding `values` (converted).
private func replaceDataset(_ file: H5Handle, _ path: String, _ scalar: H5Scalar, shape: [Int], values: [Double]) throws {
    if try file.exists(path) { try file.deleteLink(path) }
    let dataset = try file.createDataset(path, of: scalar, shape: shape, checksummed: false)
    switch scalar {
    case .float32: try values.map { Float($0) }.withUnsafeBytes { try dataset.write($0, as: scalar) }
    case .float64: try values.withUnsafeBytes { try dataset.write($0, as: scalar) }
    case .int32: try values.map { Int32($0) }.withUnsafeBytes { try dataset.write($0, as: scalar) }
    case .int64: try values.map { Int64($0) }.withUnsafeBytes { try dataset.write($0, as: scalar) }
    case .float16: try values.map { Float16($0).bitPattern }.withUnsafeBytes { try dataset.write($0, as: scalar) }
    }
    try dataset.close()
}

/// Loads `path`, expecting a CheckpointError; returns it (and checks its message names the file).
private func loadError(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> CheckpointError? {
    do {
        _ = try Checkpoint.load(from: path)
        Issue.record("loading \(path) succeeded, expected an error", sourceLocation: sourceLocation)
    } catch let error as CheckpointError {
        #expect(error.description.hasPrefix(path + ": "), sourceLocation: sourceLocation)
        #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

// MARK: - Round trips

@Suite("Checkpoint")
struct CheckpointTests {
    @Test func roundTripFloat32IsExact() throws {
        let original = makeCheckpoint()
        let path = try savedModel(original)
        let loaded = try Checkpoint.load(from: path)
        #expect(loaded.config == original.config)
        #expect(loaded.vocab == original.vocab)
        #expect(loaded.tensors == original.tensors)
        #expect(loaded.provenance == original.provenance)
        #expect(Set(loaded.storedDTypes.values) == [.float32])
    }

    @Test func roundTripFloat16RoundsEachValueAndIsKeptOnRewrite() throws {
        let original = makeCheckpoint(seed: 7)
        let path = try savedModel(original, dtype: .float16)
        let loaded = try Checkpoint.load(from: path)
        for (name, tensor) in original.tensors {
            #expect(loaded.tensors[name]?.data == tensor.data.map { Float(Float16($0)) }, "\(name)")
        }
        #expect(Set(loaded.storedDTypes.values) == [.float16])

        // A rewrite without an explicit dtype keeps float16; an explicit one overrides it.
        let rewritten = path + ".again.h5"
        try loaded.save(to: rewritten)
        #expect(Set(try CheckpointReader.inspect(path: rewritten).tensors.map(\.dtype)) == [.float16])
        #expect(try Checkpoint.load(from: rewritten).tensors == loaded.tensors)
        try loaded.save(to: rewritten, dtype: .float32)
        #expect(Set(try CheckpointReader.inspect(path: rewritten).tensors.map(\.dtype)) == [.float32])
    }

    @Test func nonASCIIVocabularyRoundTrips() throws {
        var checkpoint = makeCheckpoint()
        checkpoint.vocab[0] = "é"
        checkpoint.vocab[1] = "日本"
        checkpoint.vocab[2] = "🙂"
        checkpoint.vocab[3] = ""
        checkpoint.vocab[4] = "\n"
        checkpoint.vocab[5] = "Ω≈ç√"
        let loaded = try Checkpoint.load(from: try savedModel(checkpoint))
        #expect(loaded.vocab == checkpoint.vocab)
    }

    @Test func provenanceRoundTripsTextually() throws {
        var checkpoint = makeCheckpoint()
        checkpoint.provenance = [
            #"{"op":"train","steps":200,"lr":3e-4,"seed":1}"#,
            #"{"op":"prune","method":"wanda","sparsity":0.5,"note":"a \"quoted\" ]} string, ünïcode"}"#,
            #"{"op":"drop","blocks":[3,5],"nested":{"k":[{"x":null}]}}"#,
        ]
        #expect(try Checkpoint.load(from: try savedModel(checkpoint)).provenance == checkpoint.provenance)
        checkpoint.provenance = []
        #expect(try Checkpoint.load(from: try savedModel(checkpoint)).provenance == [])
    }

    @Test func inspectReadsTheHeaderAndReaderStreamsBlocks() throws {
        let original = makeCheckpoint()
        let path = try savedModel(original)
        let header = try CheckpointReader.inspect(path: path)
        #expect(header.config == original.config)
        #expect(header.vocab == original.vocab)
        #expect(header.tensors.map(\.name) == tinyConfig.expectedTensors.map(\.name))
        #expect(header.tensors.map(\.shape) == tinyConfig.expectedTensors.map(\.shape))
        #expect(header.parameterCount == original.tensors.values.reduce(0) { $0 + $1.count })
        #expect(header.fileSize == (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int))

        let reader = try CheckpointReader(path: path)
        let block = try reader.tensors(inBlock: 1)
        #expect(block.count == 9)
        for (name, tensor) in block { #expect(original.tensors[name] == tensor) }
        #expect(throws: CheckpointError.self) { try reader.tensor(named: "model.transformer.nope.weight") }
    }

    @Test func parallelLoadsShareTheLibrarySafely() async throws {
        let path = try savedModel()
        let expected = try Checkpoint.load(from: path).tensors
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 { group.addTask { try Checkpoint.load(from: path).tensors == expected } }
            for try await same in group { #expect(same) }
        }
    }

    @Test func largeTensorsAreSplitIntoBoundedChunks() {
        #expect(H5Handle.chunkShape([100, 10], elementBytes: 4, limit: 400) == [10, 10])
        #expect(H5Handle.chunkShape([3, 5], elementBytes: 4, limit: 1 << 20) == [3, 5])
        #expect(H5Handle.chunkShape([4, 1000], elementBytes: 4, limit: 400) == [1, 100])
        #expect(H5Handle.chunkShape([1000], elementBytes: 2, limit: 100) == [50])
        #expect(H5Handle.chunkShape([0, 4], elementBytes: 4, limit: 100) == nil)
        #expect(ModelConfig.fields.map(\.key) == ModelConfig.CodingKeys.allCases)
    }
}

// MARK: - Defects: each one its own error, naming the file and the tensor or attribute

@Suite("Checkpoint defects")
struct CheckpointDefectTests {
    @Test func missingTensor() throws {
        let name = "model.transformer.blocks.1.ff_out.weight"
        let path = try damagedModel { try $0.deleteLink(Checkpoint.datasetPath(for: name)) }
        let error = loadError(path)
        guard case .missingTensor(_, name)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(path): tensor \(name) is missing")
    }

    @Test func wrongShape() throws {
        let name = "model.transformer.blocks.0.q_proj.weight"
        let path = try damagedModel {
            try replaceDataset($0, Checkpoint.datasetPath(for: name), .float32, shape: [4, 8], values: Array(repeating: 0, count: 32))
        }
        let error = loadError(path)
        guard case .wrongShape(_, name, [4, 8], [8, 8])? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(path): tensor \(name) has shape [4, 8], expected [8, 8]")
    }

    @Test(arguments: [H5Scalar.float64, .int32])
    func wrongDType(_ scalar: H5Scalar) throws {
        let name = "model.transformer.ln_f.weight"
        let path = try damagedModel {
            try replaceDataset($0, Checkpoint.datasetPath(for: name), scalar, shape: [8], values: Array(repeating: 1, count: 8))
        }
        let error = loadError(path)
        guard case .wrongDType(_, name, scalar.rawValue)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description.contains("tensor \(name) is stored as \(scalar.rawValue)") == true)
    }

    /// A config attribute that disagrees with tensors which agree with each other is reported as a
    /// config mismatch naming the attribute and the tensor it was checked against.
    @Test func configDisagreeingWithTensors() throws {
        let path = try damagedModel { try $0.openGroup("/config").writeAttribute("vocab_size", .int(17)) }
        let error = loadError(path)
        guard case .configMismatch(_, "vocab_size", 17, 16, _)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(path): /config vocab_size = 17 disagrees with the tensors "
            + "(model.transformer.wte.weight has shape [16, 8], implying vocab_size = 16)")

        let layers = try damagedModel { try $0.openGroup("/config").writeAttribute("n_layers", .int(3)) }
        guard case .configMismatch(_, "n_layers", 3, 2, _)? = loadError(layers) else { Issue.record("n_layers"); return }
    }

    @Test func inconsistentOrBadConfig() throws {
        let heads = try damagedModel { try $0.openGroup("/config").writeAttribute("n_heads", .int(3)) }
        guard case .inconsistentConfig? = loadError(heads) else { Issue.record("n_heads"); return }

        let missing = try damagedModel { try $0.openGroup("/config").deleteAttribute("d_ff") }
        let error = loadError(missing)
        guard case .missingAttribute(_, "/config", "d_ff")? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(missing): /config attribute d_ff is missing")

        let wrongKind = try damagedModel { try $0.openGroup("/config").writeAttribute("d_model", .string("eight")) }
        guard case .badAttribute(_, "/config", "d_model", _)? = loadError(wrongKind) else { Issue.record("d_model"); return }

        // Floats may be stored as integers (h5py writes `10000` as int64).
        let intTheta = try damagedModel { try $0.openGroup("/config").writeAttribute("rope_theta", .int(500)) }
        #expect(try Checkpoint.load(from: intTheta).config.ropeTheta == 500)
    }

    @Test func nonFiniteWeight() throws {
        let name = "model.transformer.blocks.0.k_proj.weight"
        var values = [Double](repeating: 0.5, count: 32)
        values[2 * 8 + 3] = .nan
        values[30] = -.infinity
        let path = try damagedModel { try replaceDataset($0, Checkpoint.datasetPath(for: name), .float32, shape: [4, 8], values: values) }
        let error = loadError(path)
        guard case .nonFinite(_, name, 2, [2, 3], _)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(path): tensor \(name) has 2 non-finite values (first: nan at [2, 3])")
    }

    @Test func notHDF5MissingAndTruncatedFiles() throws {
        let directory = try scratchDirectory()
        let text = directory + "/notes.h5"
        try "just some text\n".write(toFile: text, atomically: true, encoding: .utf8)
        guard case .notHDF5? = loadError(text) else { Issue.record("text file"); return }
        guard case .cannotOpen? = loadError(directory + "/absent.h5") else { Issue.record("absent"); return }
        guard case .cannotOpen? = loadError(directory) else { Issue.record("directory"); return }

        let path = try savedModel()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        guard case .truncated(_, bytes.count / 2, bytes.count)? = loadError(path) else { Issue.record("truncated"); return }
    }

    @Test func wrongFormatOrVersion() throws {
        let format = try damagedModel { try $0.writeAttribute("format", .string("safetensors")) }
        let error = loadError(format)
        guard case .wrongFormat(_, "safetensors")? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(format): not a pare-dlm model file (root attribute format is \"safetensors\")")
        let version = try damagedModel { try $0.writeAttribute("format_version", .int(2)) }
        guard case .wrongVersion(_, "2")? = loadError(version) else { Issue.record("version"); return }
        let none = try damagedModel { try $0.deleteAttribute("format") }
        guard case .wrongFormat(_, nil)? = loadError(none) else { Issue.record("no format"); return }
    }

    @Test func badTokenizer() throws {
        let kind = try damagedModel { try $0.openGroup("/tokenizer").writeAttribute("kind", .string("bpe")) }
        guard case .badTokenizer? = loadError(kind) else { Issue.record("kind"); return }
        let short = try damagedModel {
            try $0.deleteLink("/tokenizer/vocab")
            try $0.createStringDataset("/tokenizer/vocab", (0..<15).map { "\($0)" })
        }
        let error = loadError(short)
        guard case .badTokenizer? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(short): bad tokenizer: vocab has 15 entries but /config vocab_size is 16")
        let missing = try damagedModel { try $0.deleteLink("/tokenizer") }
        guard case .badTokenizer? = loadError(missing) else { Issue.record("missing"); return }
    }

    @Test func badProvenance() throws {
        for history in ["not json", "[1, 2]", #"{"op":"train"}"#] {
            let path = try damagedModel { try $0.openGroup("/provenance").writeAttribute("history", .string(history)) }
            guard case .badProvenance? = loadError(path) else { Issue.record("history \(history)"); return }
        }
        let none = try damagedModel { try $0.deleteLink("/provenance") }
        #expect(try Checkpoint.load(from: none).provenance == [])
    }

    @Test func unexpectedTensor() throws {
        let path = try damagedModel {
            try replaceDataset($0, "/model/transformer/blocks/0/extra/weight", .float32, shape: [2], values: [1, 2])
        }
        let error = loadError(path)
        guard case .unexpectedTensor(_, "model.transformer.blocks.0.extra")? = error else { Issue.record("got \(String(describing: error))"); return }
    }

    @Test func failedSaveLeavesNothingBehindAndKeepsTheOldFile() throws {
        let directory = try scratchDirectory()
        let nowhere = directory + "/no/such/dir/model.h5"
        #expect(throws: CheckpointError.self) { try makeCheckpoint().save(to: nowhere) }
        #expect(!FileManager.default.fileExists(atPath: nowhere))

        let path = directory + "/model.h5"
        try makeCheckpoint(seed: 3).save(to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        var broken = makeCheckpoint(seed: 4)
        broken.tensors["model.transformer.blocks.1.v_proj.weight"] = nil
        do {
            try broken.save(to: path)
            Issue.record("saving an incomplete checkpoint succeeded")
        } catch let error as CheckpointError {
            #expect(error.description == "\(path): cannot save: tensor model.transformer.blocks.1.v_proj.weight is missing")
        }
        var nan = makeCheckpoint(seed: 5)
        nan.tensors["model.transformer.ln_f.weight"]?.data[3] = .nan
        #expect(throws: CheckpointError.self) { try nan.save(to: path) }
        var huge = makeCheckpoint(seed: 6)
        huge.tensors["model.transformer.ln_f.weight"]?.data[0] = 1e6
        #expect(throws: CheckpointError.self) { try huge.save(to: path, dtype: .float16) }
        var badHistory = makeCheckpoint(seed: 7)
        badHistory.provenance = ["not json"]
        #expect(throws: CheckpointError.self) { try badHistory.save(to: path) }

        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["model.h5"])
    }
}
