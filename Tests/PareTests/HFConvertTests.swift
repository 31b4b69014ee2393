import Foundation
import Testing
@testable import Pare

/// `pare convert` / `pare export --format hf` against the official LLaDA and Dream code: the
/// fixtures under Fixtures/hf were made by make_hf_fixtures.py with the official modeling files,
/// generate.py (LLaDA) and the ALGORITHMS.md fixed sampler on Dream's shifted logits.
@Suite struct HFConvertTests {
    static let fixtures = ["llada-mha-f32", "llada-mha-bf16", "llada-gqa-bf16", "dream-f32", "dream-bf16"]

    struct Golden: Decodable {
        let input_ids: [Int]
        let logits: [[Double]]
        let prompt: [Int]
        let gen_length: Int
        let steps: Int
        let block_length: Int
        let generation: [Int]
    }

    static func golden(_ name: String) throws -> Golden {
        try JSONDecoder().decode(Golden.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("hf/\(name)/golden.json"))))
    }

    /// Converts a fixture folder and loads the result resident (no tokenizer needed).
    static func converted(_ name: String, in dir: URL) throws -> (path: String, model: LLaDAModel) {
        let out = dir.appendingPathComponent("\(name).h5").path
        let summary = try HFConverter.convert(directory: Fixtures.path("hf/\(name)"), output: out)
        #expect(summary.tokenizerProblem == nil, "\(name)")
        return (out, try LLaDAModel(reader: CheckpointReader(path: out)))
    }

    @Test(arguments: fixtures)
    func logitsAndGenerationMatchTheOfficialCode(_ name: String) throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let golden = try Self.golden(name)
        let (_, model) = try Self.converted(name, in: dir)
        #expect(model.config.architecture == (name.hasPrefix("dream") ? "dream" : "llada"))

        let logits = try model.logits([golden.input_ids])                    // [T, vocab]
        #expect(logits.shape == [golden.logits.count, golden.logits[0].count])
        var maxDiff = 0.0, maxRef = 0.0
        for (r, row) in golden.logits.enumerated() {
            for (c, ref) in row.enumerated() {
                maxDiff = max(maxDiff, abs(Double(logits.data[r * logits.cols + c]) - ref))
                maxRef = max(maxRef, abs(ref))
            }
        }
        #expect(maxDiff / maxRef <= 1e-4, "\(name): max |pare - official| = \(maxDiff), max |official| = \(maxRef)")

        var options = SamplingOptions()
        options.genLength = golden.gen_length
        options.steps = golden.steps
        options.blockLength = golden.block_length
        options.sampler = .fixed
        let generated = try MaskedDiffusionSampler(model: model, options: options).generate([golden.prompt])
        #expect(generated[0].tokens == golden.generation, "\(name)")
    }

    @Test func dreamShiftsLogitsByOnePosition() throws {
        // The shift is the only difference between the two readings of the same weights: as
        // "dream", row i equals row i - 1 of the unshifted logits (row 0 stays).
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, dream) = try Self.converted("dream-f32", in: dir)
        var unshifted = dream
        unshifted.config.architecture = "llada"   // same weights and biases, no shift
        let ids = try Self.golden("dream-f32").input_ids
        let a = try dream.logits([ids]), b = try unshifted.logits([ids])
        // Equal up to BLAS rounding (the head multiplies a different number of rows).
        func gap(_ x: [Float], _ y: [Float]) -> Float { zip(x, y).map { abs($0 - $1) }.max()! }
        #expect(gap(a.row(0), b.row(0)) < 1e-4)
        for i in 1..<ids.count { #expect(gap(a.row(i), b.row(i - 1)) < 1e-4, "row \(i)") }
        #expect(gap(a.row(3), b.row(3)) > 0.1)
        // Chosen rows go through the same shift.
        let picked = try dream.logits([ids], outputRows: [5..<9])
        for (j, i) in (5..<9).enumerated() { #expect(gap(picked.row(j), a.row(i)) < 1e-4, "row \(i)") }
    }

    @Test func convertKeepsStoredPrecisionAndRecordsProvenance() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (path, _) = try Self.converted("llada-gqa-bf16", in: dir)
        let header = try CheckpointReader.inspect(path: path)
        #expect(Set(header.storedDTypes.values) == [.bfloat16])
        #expect(header.tokenizer.kind == "bpe")
        #expect(header.provenance.last?.contains("\"op\":\"convert\"") == true)
        let f32 = dir.appendingPathComponent("f32.h5").path
        try HFConverter.convert(directory: Fixtures.path("hf/llada-gqa-bf16"), output: f32, dtype: .float32)
        #expect(Set(try CheckpointReader.inspect(path: f32).storedDTypes.values) == [.float32])
        // bf16 widens exactly, so both files hold the same values.
        #expect(try LLaDAModel(reader: CheckpointReader(path: f32)) == LLaDAModel(reader: CheckpointReader(path: path)))
    }

    /// convert -> prune -> export hf -> convert back equals the pruned file, for both
    /// architectures (Dream's biases included), with a block dropped on the way and the pruned
    /// linears stored sparse.
    @Test(arguments: ["llada-gqa-bf16", "dream-f32"])
    func exportRoundTripEqualsThePrunedModel(_ name: String) throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (path, model) = try Self.converted(name, in: dir)
        let header = try CheckpointReader.inspect(path: path)
        // Magnitude pruning of every block linear to 50 %, then block 0 dropped.
        var pruned = model
        for i in pruned.blocks.indices {
            for l in BlockLinear.allCases {
                let w = pruned.blocks[i][l].weight
                let cut = w.data.map(abs).sorted()[w.count / 2]
                pruned.blocks[i][l].weight = Tensor(shape: w.shape, data: w.data.map { abs($0) < cut ? 0 : $0 })
            }
        }
        let smaller = KeptBlocks(base: pruned, kept: [1])
        let prunedPath = dir.appendingPathComponent("pruned.h5").path
        // Stored sparse (bitmask): export writes the linears dense.
        try ModelFile.write(smaller, tokenizer: header.tokenizer, to: prunedPath, dtype: { _ in .float32 }, linearEncoding: .bitmask,
                            provenance: { header.provenance })

        let exported = dir.appendingPathComponent("export").path
        try HFConverter.export(from: prunedPath, to: exported, like: Fixtures.path("hf/\(name)"), maxShardBytes: 8_000)
        let files = try FileManager.default.contentsOfDirectory(atPath: exported)
        #expect(files.contains(SafetensorsFolder.indexName))
        #expect(files.filter { $0.hasSuffix(".safetensors") }.count >= 2)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: exported + "/config.json"))) as! [String: Any]
        #expect(config[name.hasPrefix("dream") ? "num_hidden_layers" : "n_layers"] as? Int == 1)
        #expect(config["auto_map"] != nil)   // kept from --like

        let back = dir.appendingPathComponent("back.h5").path
        try HFConverter.convert(directory: exported, output: back)
        let a = try LLaDAModel(reader: CheckpointReader(path: back)), b = try LLaDAModel(reader: CheckpointReader(path: prunedPath))
        #expect(b.blocks[0].qProj.isSparse && !a.blocks[0].qProj.isSparse)
        #expect(a.namedTensors == b.namedTensors)
        #expect(a.config == b.config)
        #expect(a.blocks[0].biases.isEmpty == !name.hasPrefix("dream"))

        // The history travels through the folder: the pruned file's entries, then export, then convert.
        let history = try CheckpointReader.inspect(path: back).provenance
        let prunedHistory = try CheckpointReader.inspect(path: prunedPath).provenance
        #expect(!prunedHistory.isEmpty && history.count == prunedHistory.count + 2)
        #expect(Array(history.prefix(prunedHistory.count)) == prunedHistory)
        #expect(history.dropLast().last?.contains("\"op\":\"export\"") == true)
        #expect(history.last?.contains("\"op\":\"convert\"") == true)

        // A damaged history file is one error naming it.
        let damaged = exported + "/" + HFConverter.provenanceFileName
        try Data("[{\"op\": \"prune\"}, 3]".utf8).write(to: URL(fileURLWithPath: damaged))
        let again = dir.appendingPathComponent("again.h5").path
        #expect(throws: HFError.self) { try HFConverter.convert(directory: exported, output: again) }
        do { try HFConverter.convert(directory: exported, output: again) } catch {
            #expect("\(error)" == "\(damaged): is not a provenance history: entry 1 is not a JSON object")
        }
        #expect(!FileManager.default.fileExists(atPath: again))
    }

    /// The command line end to end: convert, then generate from token ids, as a user would;
    /// and the error forms.
    @Test func commandLineConvertThenGenerate() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["llada-mha-bf16", "dream-bf16"] {
            let golden = try Self.golden(name)
            let convert = try SparseCommandLineTests.pare(["convert", Fixtures.path("hf/\(name)"), "--output", "m.h5", "--json"], in: dir.path)
            #expect(convert.status == 0, "\(convert.err)")
            let generate = try SparseCommandLineTests.pare(["generate", "--model", "m.h5", "--prompt-ids", golden.prompt.map(String.init).joined(separator: ","),
                                                     "--gen-length", "\(golden.gen_length)", "--steps", "\(golden.steps)",
                                                     "--block-length", "\(golden.block_length)", "--json"], in: dir.path)
            let json = try JSONSerialization.jsonObject(with: Data(generate.out.utf8)) as? [String: Any]
            #expect(json?["tokens"] as? [Int] == golden.generation, "\(name): \(generate.err)")
        }
        let missing = try SparseCommandLineTests.pare(["convert", "no-such-folder", "--output", "x.h5"], in: dir.path)
        #expect(missing.status == 1 && missing.err.hasPrefix("error: no-such-folder/config.json") && missing.err.filter { $0 == "\n" }.count == 1,
                "\(missing)")
        let badDType = try SparseCommandLineTests.pare(["convert", Fixtures.path("hf/dream-f32"), "--output", "x.h5", "--dtype", "f8"], in: dir.path)
        #expect(badDType.status == 64, "\(badDType)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.h5").path))
    }

    /// `--dtype` re-encodes every tensor and says so in config.json; without `--like` the config
    /// is a fresh one that convert reads back to the same model config.
    @Test func exportDTypeAndAFreshConfig() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (path, model) = try Self.converted("dream-f32", in: dir)
        let out = dir.appendingPathComponent("bf16").path
        try HFConverter.export(from: path, to: out, dtype: .bfloat16)
        let weights = try SafetensorsFolder(directory: out)
        #expect(weights.shards.count == 1)
        #expect(try weights.tensorNames.allSatisfy { try weights.entry($0).dtype == .bf16 })
        let (config, raw) = try HFConfig.read(directory: out)
        #expect(config == model.config)
        #expect(raw["torch_dtype"] as? String == "bfloat16" && raw["model_type"] as? String == "Dream")
        // The tokenizer files come back byte for byte.
        for name in ["vocab.json", "merges.txt", "added_tokens.json"] {
            #expect(FileManager.default.contents(atPath: out + "/" + name) == FileManager.default.contents(atPath: Fixtures.path("hf/dream-f32/\(name)")))
        }
        // Exporting over an existing folder replaces it whole.
        try HFConverter.export(from: path, to: out, maxShardBytes: 20_000)
        #expect(try SafetensorsFolder(directory: out).shards.count > 1)
        #expect(!FileManager.default.fileExists(atPath: out + "/model.safetensors"), "no file of the previous export is left")
        #expect(try SafetensorsFolder(directory: out).entry("lm_head.weight").dtype == .f32)
    }

    /// Tokenizer files Pare cannot run are stored anyway, with the reason in the summary (the
    /// CLI prints it as a warning): the weights stay usable on token ids.
    @Test func anUnusableTokenizerIsStoredWithAWarning() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = dir.appendingPathComponent("hf")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: Fixtures.path("hf/llada-mha-f32")), to: folder)
        try Data(#"{"model": {"type": "Unigram", "vocab": []}}"#.utf8).write(to: folder.appendingPathComponent("tokenizer.json"))
        let out = dir.appendingPathComponent("m.h5").path
        let summary = try HFConverter.convert(directory: folder.path, output: out)
        #expect(summary.tokenizerProblem != nil)
        #expect(try CheckpointReader.inspect(path: out).tokenizer.kind == "bpe")
    }
}
