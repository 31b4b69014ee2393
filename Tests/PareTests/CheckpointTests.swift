import Foundation
import Testing
@testable import Pare

// MARK: - Fixtures (shared by the Checkpoint test files)

/// Small checkpoints and damaged copies, built inside the tests.
enum CheckpointFixtures {
    /// SplitMix64: a tiny seeded generator so every fixture and fuzz case is reproducible.
    struct RNG: RandomNumberGenerator {
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

    static let config = ModelConfig(vocabSize: 16, dModel: 8, nLayers: 2, nHeads: 2, nKVHeads: 1, dFF: 12,
                                    maxSeqLen: 32, maskTokenID: 14, eosTokenID: 15)

    static func checkpoint(_ config: ModelConfig = config, seed: UInt64 = 1) -> Checkpoint {
        var rng = RNG(seed: seed)
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

    /// A fresh directory per test (tests run in parallel), removed by `cleanUp`.
    static func scratchDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pare-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    /// Removes the scratch directory holding `path` (a file in it, or the directory itself).
    static func cleanUp(_ path: String) {
        var url = URL(fileURLWithPath: path)
        while !url.lastPathComponent.hasPrefix("pare-ckpt-") && url.pathComponents.count > 2 { url.deleteLastPathComponent() }
        if url.lastPathComponent.hasPrefix("pare-ckpt-") { try? FileManager.default.removeItem(at: url) }
    }

    static func savedModel(_ checkpoint: Checkpoint = checkpoint(), dtype: StorageDType? = nil) throws -> String {
        let path = try scratchDirectory() + "/model.h5"
        try checkpoint.save(to: path, dtype: dtype)
        return path
    }

    /// A saved tiny model, changed by `damage` through the low-level HDF5 wrapper.
    static func damagedModel(_ damage: (H5Handle) throws -> Void) throws -> String {
        let path = try CheckpointFixtures.savedModel()
        let file = try H5Handle.openFile(path, writable: true)
        try damage(file)
        try file.close()
        return path
    }

    /// Replaces (or adds) the dataset at `path`: one of `scalar` type holding `values` (converted).
    static func replaceDataset(_ file: H5Handle, _ path: String, _ scalar: H5Scalar, shape: [Int], values: [Double]) throws {
        if try file.exists(path) { try file.deleteLink(path) }
        let dataset = try file.createDataset(path, of: scalar, shape: shape, checksummed: false)
        switch scalar {
        case .float32: try values.map { Float($0) }.withUnsafeBytes { try dataset.write($0, as: scalar) }
        case .float64: try values.withUnsafeBytes { try dataset.write($0, as: scalar) }
        case .int32: try values.map { Int32($0) }.withUnsafeBytes { try dataset.write($0, as: scalar) }
        case .int64: try values.map { Int64($0) }.withUnsafeBytes { try dataset.write($0, as: scalar) }
        case .float16: try values.map { Float16($0).bitPattern }.withUnsafeBytes { try dataset.write($0, as: scalar) }
        case .uint16: try values.map { UInt16($0) }.withUnsafeBytes { try dataset.write($0, as: scalar) }
        case .uint8: try values.map { UInt8($0) }.withUnsafeBytes { try dataset.write($0, as: scalar) }
        }
        try dataset.close()
    }

    /// Loads `path` expecting a CheckpointError whose one-line message starts with the file name;
    /// returns it, and removes the scratch directory.
    static func loadError(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> CheckpointError? {
        defer { cleanUp(path) }
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
}

// MARK: - Round trips

@Suite("Checkpoint")
struct CheckpointTests {
    typealias F = CheckpointFixtures

    @Test func roundTripFloat32IsExact() throws {
        let original = F.checkpoint()
        let path = try F.savedModel(original)
        defer { F.cleanUp(path) }
        let loaded = try Checkpoint.load(from: path)
        #expect(loaded.config == original.config)
        #expect(loaded.vocab == original.vocab)
        #expect(loaded.tensors == original.tensors)
        #expect(loaded.provenance == original.provenance)
        #expect(Set(loaded.storedDTypes.values) == [.float32])
    }

    @Test func roundTripFloat16RoundsEachValueAndIsKeptOnRewrite() throws {
        let original = F.checkpoint(seed: 7)
        let path = try F.savedModel(original, dtype: .float16)
        defer { F.cleanUp(path) }
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
        var checkpoint = F.checkpoint()
        checkpoint.vocab[0...5] = ["é", "日本", "🙂", "", "\n", "Ω≈ç√"]
        let path = try F.savedModel(checkpoint)
        defer { F.cleanUp(path) }
        #expect(try Checkpoint.load(from: path).vocab == checkpoint.vocab)
        // The checksum is zlib's CRC-32, so Python can verify it.
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func provenanceRoundTripsTextually() throws {
        var checkpoint = F.checkpoint()
        checkpoint.provenance = [
            #"{"op":"train","steps":200,"lr":3e-4,"seed":1}"#,
            #"{"op":"prune","method":"wanda","sparsity":0.5,"note":"a \"quoted\" ]} string, ünïcode"}"#,
            #"{"op":"drop","blocks":[3,5],"nested":{"k":[{"x":null}]}}"#,
        ]
        // Long histories exceed HDF5's 64 KiB compact attribute limit and go to dense storage.
        checkpoint.provenance += (0..<2000).map { #"{"op":"finetune","step":\#($0),"loss":0.125}"# }
        for history in [checkpoint.provenance, []] {
            checkpoint.provenance = history
            let path = try F.savedModel(checkpoint)
            defer { F.cleanUp(path) }
            #expect(try Checkpoint.load(from: path).provenance == history)
        }
    }

    @Test func inspectReadsTheHeaderAndReaderStreamsBlocks() throws {
        let original = F.checkpoint()
        let path = try F.savedModel(original)
        defer { F.cleanUp(path) }
        let header = try CheckpointReader.inspect(path: path)
        #expect(header.config == original.config)
        #expect(header.vocab == original.vocab)
        #expect(header.tensors.map(\.name) == F.config.expectedTensors.map(\.name))
        #expect(header.tensors.map(\.shape) == F.config.expectedTensors.map(\.shape))
        #expect(header.parameterCount == original.tensors.values.reduce(0) { $0 + $1.count })
        #expect(header.fileSize == (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int))
        #expect(header.checksummed)

        let reader = try CheckpointReader(path: path)
        let block = try reader.tensors(inBlock: 1)
        #expect(block.count == 9)
        for (name, tensor) in block { #expect(original.tensors[name] == tensor) }
        #expect(throws: CheckpointError.self) { try reader.tensor(named: "model.transformer.nope.weight") }
    }

    @Test func parallelLoadsShareTheLibrarySafely() async throws {
        let path = try F.savedModel()
        defer { F.cleanUp(path) }
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
        // Equal cuts: 2816 rows of 1024 floats in 4 MiB chunks are three chunks of 939 rows, not 1024 + 1024 + 768.
        #expect(H5Handle.chunkShape([2816, 1024], elementBytes: 4, limit: 4 << 20) == [939, 1024])
        #expect(H5Handle.chunkShape([101, 10], elementBytes: 4, limit: 400) == [10, 10])
        #expect(H5Handle.chunkShape([1001], elementBytes: 2, limit: 100) == [48])
        #expect(ModelConfig.fields.map(\.key) == ModelConfig.CodingKeys.allCases)
    }
}
