import Foundation
import Testing
@testable import Pare

/// Streamed and resident weights run the same forward pass, so every command gives
/// bit-identical files and generations either way; bfloat16 storage matches numpy's rounding.
@Suite struct StreamingTests {
    /// The bundled model, and a random grouped-query model stored in bfloat16 (written here).
    static func models(in dir: URL) throws -> [String] {
        let config = ModelConfig(vocabSize: CharTokenizer.referenceVocab.count, dModel: 48, nLayers: 3, nHeads: 6,
                                 nKVHeads: 2, dFF: 80, maxSeqLen: 48, maskTokenID: 1, eosTokenID: 0)
        let gqa = dir.appendingPathComponent("gqa-bf16.h5").path
        try LLaDAModel.random(config: config, seed: 11, std: 0.2)
            .checkpoint(vocab: CharTokenizer.referenceVocab, provenance: [#"{"op": "test"}"#])
            .save(to: gqa, dtype: .bfloat16)
        return [BundledRecipeTests.path("models/pare-tiny.h5"), gqa]
    }

    static func open(_ path: String) throws -> (resident: LoadedModel, streamed: LoadedModel) {
        let resident = try ModelFile.open(path, residency: .resident)
        let streamed = try ModelFile.open(path, residency: .streamed)
        #expect(!resident.isStreamed && streamed.isStreamed)
        return (resident, streamed)
    }

    static func calibration(_ model: LoadedModel) throws -> CalibrationSet {
        try CalibrationSet.referenceTasks(count: 24, tokenizer: model.tokenizer, eos: model.config.eosTokenID)
    }

    /// Two files hold the same config, tensors (value and storage precision) and provenance.
    static func expectSameFile(_ a: String, _ b: String) throws {
        let x = try CheckpointReader.read(path: a), y = try CheckpointReader.read(path: b)
        #expect(x.config == y.config)
        #expect(x.provenance == y.provenance)
        #expect(x.storedDTypes == y.storedDTypes)
        #expect(x.tensors.count == y.tensors.count)
        for (name, t) in x.tensors { #expect(y.tensors[name] == t, "\(name) differs") }
    }

    @Test func pruningWritesTheSameFileStreamedOrResident() throws {
        let dir = Fixtures.temporaryDirectory()
        for path in try Self.models(in: dir) {
            let (resident, streamed) = try Self.open(path)
            for method in [PruningMethod.wanda, .sparsegpt] {
                var spec = PruningSpec()
                spec.method = method
                spec.sparsity = 0.5
                let pruner = ModelPruner(spec: spec, calibration: try Self.calibration(resident))
                let a = dir.appendingPathComponent("r-\(method).h5").path, b = dir.appendingPathComponent("s-\(method).h5").path
                let ra = try pruner.prune(resident, writingTo: a)
                let rb = try pruner.prune(streamed, writingTo: b)
                #expect(ra.layers.map(\.reconstructionError) == rb.layers.map(\.reconstructionError))
                try Self.expectSameFile(a, b)
                let out = try CheckpointReader(path: a).header
                #expect(out.storedDTypes == resident.header.storedDTypes, "pruning keeps each tensor's storage precision")
                #expect(out.provenance == resident.header.provenance + [ra.provenanceJSON])
                #expect(ra.layers.allSatisfy { abs($0.sparsity - 0.5) < 0.02 })
            }
        }
    }

    @Test func droppingWritesTheSameFileStreamedOrResident() throws {
        let dir = Fixtures.temporaryDirectory()
        for path in try Self.models(in: dir) {
            let (resident, streamed) = try Self.open(path)
            let selection = DepthSelection(criterion: .blockInfluence, calibration: try Self.calibration(resident))
            let dropped = try selection.select(count: 1, model: resident.weights)
            #expect(try selection.select(count: 1, model: streamed.weights) == dropped)
            let a = dir.appendingPathComponent("r-drop.h5").path, b = dir.appendingPathComponent("s-drop.h5").path
            try BlockDropper.drop(dropped, from: resident, criterion: "block-influence", writingTo: a)
            try BlockDropper.drop(dropped, from: streamed, criterion: "block-influence", writingTo: b)
            try Self.expectSameFile(a, b)
            // The kept blocks are the source's, renumbered.
            let out = try CheckpointReader.read(path: a)
            let kept = (0..<resident.config.nLayers).filter { !dropped.contains($0) }
            #expect(out.config.nLayers == kept.count)
            for (i, k) in kept.enumerated() {
                #expect(try LLaDABlock(index: i) { out.tensors[$0]! } == resident.weights.block(k))
            }
        }
    }

    @Test func generationIsTheSameStreamedOrResident() throws {
        let dir = Fixtures.temporaryDirectory()
        for path in try Self.models(in: dir) {
            let (resident, streamed) = try Self.open(path)
            let prompts = try ["12+34=", "rev:abc=", "a:3,q:7?q=", "a=4;b=a+3?b="].map { try resident.tokenizer.encode($0) }
            #expect(try resident.weights.logits(prompts) == streamed.weights.logits(prompts))
            for sampler in [SamplerKind.fixed, .threshold] {
                var options = SamplingOptions()
                options.sampler = sampler
                let a = try MaskedDiffusionSampler(model: resident.weights, options: options).generate(prompts)
                let b = try MaskedDiffusionSampler(model: streamed.weights, options: options).generate(prompts)
                #expect(a.map(\.tokens) == b.map(\.tokens) && a.map(\.nfe) == b.map(\.nfe))
            }
        }
    }

    /// Pare reads the bfloat16 file numpy wrote (make_bf16.py), and its own bfloat16 writer
    /// rounds the float32 fixture to exactly numpy's bits.
    @Test func bfloat16MatchesNumpy() throws {
        let numpy = try CheckpointReader.read(path: Fixtures.path("reference/tiny-gqa-bf16.h5"))
        #expect(Set(numpy.storedDTypes.values) == [.bfloat16])
        let path = Fixtures.temporaryDirectory().appendingPathComponent("ours-bf16.h5").path
        try CheckpointReader.read(path: Fixtures.path("reference/tiny-gqa.h5")).save(to: path, dtype: .bfloat16)
        let ours = try CheckpointReader.read(path: path)
        #expect(ours.storedDTypes == numpy.storedDTypes)
        for (name, t) in numpy.tensors { #expect(ours.tensors[name] == t, "\(name) differs from numpy's rounding") }
        // Widening is exact: every value is a float32 whose low 16 bits are zero.
        #expect(numpy.tensors.values.allSatisfy { $0.data.allSatisfy { $0.bitPattern & 0xFFFF == 0 } })
    }

    /// Large tensors are copied in slabs of rows; slab boundaries must not show in the file.
    @Test func slabWritesEqualWholeWrites() throws {
        let config = ModelConfig(vocabSize: CharTokenizer.referenceVocab.count, dModel: 16, nLayers: 1, nHeads: 2,
                                 nKVHeads: 1, dFF: 24, maxSeqLen: 16, maskTokenID: 1, eosTokenID: 0)
        let model = LLaDAModel.random(config: config, seed: 5)
        for dtype in StorageDType.allCases {
            let path = Fixtures.temporaryDirectory().appendingPathComponent("slabs.h5").path
            let writer = try ModelWriter(path: path, config: config, vocab: CharTokenizer.referenceVocab) { _ in dtype }
            for (key, tensor) in model.namedTensors.sorted(by: { $0.key < $1.key }) {
                if tensor.rank == 2 && tensor.rows > 7 {
                    try writer.write(key, rowsPerSlab: 7) { tensor.sliceRows($0) }   // 45 rows: 6 full slabs + 3
                } else {
                    try writer.write(key, tensor)
                }
            }
            try writer.finish(provenance: [])
            let whole = Fixtures.temporaryDirectory().appendingPathComponent("whole.h5").path
            try model.checkpoint(vocab: CharTokenizer.referenceVocab, provenance: []).save(to: whole, dtype: dtype)
            try Self.expectSameFile(path, whole)
            let back = try ModelFile.open(path, residency: .streamed).weights
            #expect(try back.rows(of: .wte, in: 10..<20) == CheckpointReader.read(path: whole).tensors[GlobalTensor.wte.key]!.sliceRows(10..<20))
        }
    }

    @Test func bfloat16RoundsToNearestEven() {
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even pattern (1.0).
        #expect(HalfPrecision.bfloat16Bits(1) == 0x3F80)
        #expect(HalfPrecision.bfloat16Bits(1 + 1.0 / 256) == 0x3F80)
        #expect(HalfPrecision.bfloat16Bits(1 + 3.0 / 256) == 0x3F82)
        #expect(HalfPrecision.bfloat16Bits(-2) == 0xC000)
        #expect(HalfPrecision.firstOverflow([1, Float.greatestFiniteMagnitude], bfloat: true) == 1)
    }

    @Test func residencyIsChosenFromSize() throws {
        let header = try CheckpointReader.inspect(path: BundledRecipeTests.path("models/pare-tiny.h5"))
        #expect(ModelFile.fitsInMemory(header))
        #expect(!(try ModelFile.open(BundledRecipeTests.path("models/pare-tiny.h5")).isStreamed))
    }
}
