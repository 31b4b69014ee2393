import Foundation
import Testing
@testable import Pare
import Yams

/// Input that used to be accepted as nonsense, or split wrongly (issue #10): unknown and
/// non-finite recipe values, CRLF text files, errors that echo line breaks, empty inputs.
@Suite struct InputValidationTests {
    static func write(_ text: String, _ name: String) throws -> String {
        let path = Fixtures.temporaryDirectory().appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func trainingRecipesRejectUnknownKeysAndNonFiniteValues() throws {
        #expect(throws: (any Error).self) { try YAMLDecoder().decode(TrainingRecipe.self, from: "stesp: 10\n") }
        #expect(throws: (any Error).self) { try YAMLDecoder().decode(TrainingRecipe.self, from: "model:\n  d_modle: 64\n") }
        let unknown = try Self.write("steps: 10\nlearning_rat: 0.1\n", "typo.yaml")
        #expect { try TrainingRecipe.load(path: unknown) } throws: { "\($0)".contains("'learning_rat'") }
        for bad in ["grad_clip: .inf\n", "grad_clip: .nan\n", "tasks: {add: .nan}\n", "tasks: {add: 1, kv: -1}\n",
                    "learning_rate: .inf\n", "min_learning_rate: .nan\n"] {
            let path = try Self.write(bad, "bad.yaml")
            #expect(throws: TrainingError.self, "\(bad)") { try TrainingRecipe.load(path: path) }
        }
        #expect(try TrainingRecipe.load(path: Self.write("steps: 10\ngrad_clip: 0.5\n", "ok.yaml")).steps == 10)
    }

    /// YAML anchors and aliases would let a few hundred bytes expand into billions of nodes.
    @Test func recipesRefuseAnchorsAndAliases() throws {
        let bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            + "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nsteps: 10\n"
        let path = try Self.write(bomb, "bomb.yaml")
        #expect { try TrainingRecipe.load(path: path) } throws: { "\($0)".contains("line 1: YAML anchors and aliases (&a)") }
        #expect(throws: PruningError.self) { try CompressionSweep.Recipe.load(path: path) }
        // Quoted text and comments may hold the characters.
        let fine = try Self.write("steps: 10  # *not an alias*\ninit_from: \"a&b*c.h5\"\n", "fine.yaml")
        #expect(try TrainingRecipe.load(path: fine).initFrom == "a&b*c.h5")
        let huge = try Self.write(String(repeating: "# padding\n", count: 110_000), "huge.yaml")
        #expect { try TrainingRecipe.load(path: huge) } throws: { "\($0)".contains("too large for a recipe") }
    }

    @Test func sweepRecipesRejectUnknownKeysAndOutOfRangeValues() throws {
        for bad in ["sample: 10\n", "calibration_samples: 0\n", "calibration_samples: -1\n", "samples: 0\n",
                    "calibration_mask_ratio: 2\n", "calibration_mask_ratio: .nan\n",
                    "variants:\n  - {kind: prune, method: wanda, sparsity: 0.5, patern: 2:4}\n",
                    "variants:\n  - {kind: quantise}\n"] {
            let path = try Self.write(bad, "sweep.yaml")
            #expect(throws: PruningError.self, "\(bad)") { try CompressionSweep.Recipe.load(path: path) }
        }
        // Sweep variants are checked as report variants, and list fields expand the same way.
        for bad in ["variants:\n  - {kind: drop, count: 1}\n", "variants:\n  - {kind: prune, method: lasso, sparsity: 0.5}\n",
                    "variants:\n  - {kind: prune, method: wanda, sparsity: 1.5}\n", "variants:\n  - {kind: seft, method: wanda, sparsity: 0.5, steps: 10}\n"] {
            let path = try Self.write(bad, "sweep.yaml")
            #expect(throws: PruningError.self, "\(bad)") { try CompressionSweep.Recipe.load(path: path) }
        }
        let good = try CompressionSweep.Recipe.load(path: Self.write(
            "samples: 20\nvariants:\n  - {kind: drop, count: 1, by: angular}\n  - {kind: prune, method: wanda, sparsity: [0.5, 0.7]}\n", "ok.yaml"))
        #expect(good.samples == 20 && good.variants.map(\.label) == ["drop 1 by angular", "wanda 50 %", "wanda 70 %"])
    }

    @Test func textFilesSplitAtEveryLineEnding() throws {
        #expect("a\r\nb\rc\nd".textLines == ["a", "b", "c", "d"])
        #expect("a\r\n\r\nb\r\n".textLines == ["a", "", "b", ""])
        let tokenizer = CharTokenizer(vocab: CharTokenizer.referenceVocab)
        let crlf = try Self.write("1+2=\t3\r\n4+5=\t9\r\n\r\nrev:ab=\tba\r\n", "calibration.txt")
        let set = try CalibrationSet.file(crlf, limit: nil, tokenizer: tokenizer)
        #expect(set.samples.count == 3)
        let prompt = try tokenizer.encode("4+5="), answer = try tokenizer.encode("9")
        #expect(set.samples[1].prompt == prompt && set.samples[1].answer == answer)
    }

    @Test func errorsThatEchoInputStayOnOneLine() {
        #expect("a\nb\rc\td\u{7}".escapedForOneLine == #"a\nb\rc\td\u{7}"#)
        let tokenizer = CharTokenizer(vocab: CharTokenizer.referenceVocab)
        do {
            _ = try tokenizer.encode("12\n+3")
            Issue.record("a newline is not in the reference vocabulary")
        } catch {
            #expect(!"\(error)".escapedForOneLine.contains("\n"))
        }
    }

    @Test func emptyInputsAreErrors() throws {
        let dir = Fixtures.temporaryDirectory().path
        let empty = try Self.write("\n\r\n\n", "prompts.txt")
        let model = BundledRecipeTests.path("models/pare-tiny.h5")
        let generate = try SparseCommandLineTests.pare(["generate", "--model", model, "--prompts", empty], in: dir)
        #expect(generate.status == 1)
        #expect(generate.err == "error: prompts file \(empty) holds no prompt (every line is empty)\n")
        let eval = try SparseCommandLineTests.pare(["eval", "--model", model, "--tasks", ","], in: dir)
        #expect(eval.status == 64 && eval.err.contains("--tasks: name at least one of add, kv, rev, chain"))
        // A prompt with a line break is echoed escaped, on the one error line.
        let bad = try SparseCommandLineTests.pare(["generate", "--model", model, "--prompt", "1+\n2=\u{1}"], in: dir)
        #expect(bad.status == 1)
        let lineBreaks = bad.err.unicodeScalars.filter { $0 == "\n" || $0 == "\r" }.count
        #expect(bad.err.hasPrefix("error: ") && lineBreaks == 1, "\(bad.err)")
    }

    /// Counts and sizes are bounded where they are read: an absurd value is one usage error
    /// (exit 64), never an allocation failure, an overflow or a hang.
    @Test func absurdSizesAreUsageErrors() throws {
        let dir = Fixtures.temporaryDirectory().path
        let model = BundledRecipeTests.path("models/pare-tiny.h5")
        let cases: [([String], String)] = [
            (["generate", "--model", model, "--prompt", "1+2=", "--gen-length", "9223372036854775807"], "--gen-length must be in 1...1048576"),
            (["generate", "--model", model, "--prompt", "1+2=", "--steps", "1000000"], "--steps 1000000 exceeds --gen-length 12"),
            (["eval", "--model", model, "--samples", "1000000000"], "--samples must be in 1...1000000"),
            (["eval", "--model", model, "--likelihood-draws", "99999999"], "--likelihood-draws must be in 1...10000"),
            (["bench", "forward", "--tokens", "9223372036854775807"], "--tokens must be in 1...65536"),
            (["bench", "forward", "--repeats", "1000000000"], "--repeats must be in 1...1000"),
            (["init", "--output", dir + "/x.h5", "--n-layers", "65537"], "--n-layers must be in 0...65536"),
            (["init", "--output", dir + "/x.h5", "--d-model", "1073741824"], "--d-model must be in 1...65536"),
            (["prune", "--model", model, "--sparsity", "0.5", "--calibration-samples", "99999999"], "--calibration-samples must be in"),
        ]
        for (arguments, message) in cases {
            let r = try SparseCommandLineTests.pare(arguments, in: dir)
            #expect(r.status == 64, "\(arguments): exit \(r.status), \(r.err)")
            #expect(r.err.contains(message), "\(arguments): \(r.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.h5"))
        // Layer ranges are checked before they are expanded.
        #expect(throws: DepthError.self) { try BlockDropper.parseLayers("1-1000000000") }
        #expect(try BlockDropper.parseLayers("3,5-7") == [3, 5, 6, 7])
    }

    /// The loader's limits belong to the config, so writers apply them too.
    @Test func configLimitsAreTheLoaders() {
        var config = ModelConfig(vocabSize: 45, dModel: 16, nLayers: ModelConfig.maxLayers + 1, nHeads: 2, nKVHeads: 2,
                                 dFF: 32, maxSeqLen: 16, maskTokenID: 1, eosTokenID: 0)
        #expect(config.problem()?.contains("n_layers = 65537 is implausibly large") == true)
        config.nLayers = 2
        config.dFF = Int(Int32.max) + 1
        #expect(config.problem()?.contains("d_ff") == true)
        config.dFF = 32
        #expect(config.problem() == nil)
    }

    /// A prompt that leaves no room for the generation region fails before any canvas exists.
    @Test func generationThatCannotFitIsAnError() throws {
        let model = try ModelFile.open(BundledRecipeTests.path("models/pare-tiny.h5"), residency: .resident).weights
        var options = SamplingOptions()
        options.genLength = 1 << 20  // allowed by the options, far beyond the model's max_seq_len
        options.steps = 1
        #expect(throws: ModelError.self) { try MaskedDiffusionSampler(model: model, options: options).generate([[3, 4]]) }
        options.genLength = 12
        options.steps = nil
        let tooLong = [Int](repeating: 3, count: model.config.maxSeqLen - 11)
        #expect(throws: ModelError.self) { try MaskedDiffusionSampler(model: model, options: options).generate([tooLong]) }
        #expect(try MaskedDiffusionSampler(model: model, options: options).generate([Array(tooLong.dropLast())]).count == 1)
    }
}

/// Valid or hostile files the loader must take or refuse without hanging (issue #10).
@Suite struct ModelFileKindTests {
    /// A user block (HDF5 data after the first 512 bytes) is valid HDF5 and loads like the file
    /// it was copied from.
    @Test func filesWithAUserBlockLoad() throws {
        let plain = try ModelFile.open(Fixtures.path("reference/tiny-gqa-f16.h5"), residency: .resident).weights
        let shifted = try ModelFile.open(Fixtures.path("reference/tiny-gqa-userblock.h5"), residency: .resident).weights
        let ids = [[3, 4, 5, 6, 1, 1]]
        #expect(try shifted.logits(ids) == plain.logits(ids))
    }

    /// A FIFO as the model is refused at once (opening it for reading used to wait forever).
    @Test func aFIFOIsNotAModel() throws {
        let fifo = Fixtures.temporaryDirectory().appendingPathComponent("model.h5").path
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect { try ModelFile.open(fifo) } throws: { "\($0)".contains("not a regular file") }
    }
}

extension ModelFileKindTests {
    /// mask_token_id and eos_token_id must name the special entries, and no text names two ids.
    @Test func specialIdsMustNameTheSpecialEntries() throws {
        let config = ModelConfig(vocabSize: CharTokenizer.referenceVocab.count, dModel: 16, nLayers: 1, nHeads: 2, nKVHeads: 2,
                                 dFF: 24, maxSeqLen: 16, maskTokenID: 1, eosTokenID: 0)
        let model = LLaDAModel.random(config: config, seed: 1)
        let dir = Fixtures.temporaryDirectory()
        var swapped = CharTokenizer.referenceVocab
        swapped.swapAt(1, 12)  // "<mask>" <-> "a"
        var doubled = CharTokenizer.referenceVocab
        doubled[12] = doubled[13]
        for (name, vocab, message) in [("swapped", swapped, "mask_token_id 1 is the entry \"a\""),
                                        ("doubled", doubled, "appears twice")] {
            let path = dir.appendingPathComponent("\(name).h5").path
            try model.checkpoint(vocab: vocab, provenance: []).save(to: path)
            #expect { try ModelFile.open(path) } throws: { "\($0)".contains(message) }
        }
        let good = dir.appendingPathComponent("good.h5").path
        try model.checkpoint(vocab: CharTokenizer.referenceVocab, provenance: []).save(to: good)
        #expect(try ModelFile.open(good).config == config)
    }
}

extension ModelFileKindTests {
    /// Finite weights can still overflow; decoding then names the block instead of committing
    /// tokens from NaN logits.
    @Test func nonFiniteActivationsNameTheirBlock() throws {
        let config = ModelConfig(vocabSize: CharTokenizer.referenceVocab.count, dModel: 16, nLayers: 3, nHeads: 2, nKVHeads: 2,
                                 dFF: 24, maxSeqLen: 32, maskTokenID: 1, eosTokenID: 0)
        var model = LLaDAModel.random(config: config, seed: 1)
        let prompt = [[3, 4, 5]]
        #expect(try MaskedDiffusionSampler(model: model, options: SamplingOptions()).generate(prompt).count == 1)
        var w = model.blocks[1].upProj.weight  // up_proj overflows to ±inf; ff_out then sums inf - inf
        w.data = w.data.map { $0 > 0 ? 3e38 : -3e38 }
        model.blocks[1].upProj = Linear(w)
        #expect(try model.firstNonFiniteBlock(prompt) == 1)
        #expect { try MaskedDiffusionSampler(model: model, options: SamplingOptions()).generate(prompt) } throws: {
            "\($0)".contains("in block 1")
        }
    }

    /// The same overflow stops every pass that scores a model from its activations, naming the
    /// block: pruning's calibration (it used to write a file pruned by NaN scores), the depth
    /// criteria (they ranked NaN scores) and likelihoods (a NaN NLL).
    @Test func calibrationPassesRefuseNonFiniteActivations() throws {
        let config = ModelConfig(vocabSize: CharTokenizer.referenceVocab.count, dModel: 16, nLayers: 3, nHeads: 2, nKVHeads: 2,
                                 dFF: 24, maxSeqLen: 64, maskTokenID: 1, eosTokenID: 0)
        let healthy = LLaDAModel.random(config: config, seed: 1)
        var model = healthy
        var w = model.blocks[1].upProj.weight
        w.data = w.data.map { $0 > 0 ? 3e38 : -3e38 }
        model.blocks[1].upProj = Linear(w)
        let calibration = try CalibrationSet.referenceTasks(count: 4, tokenizer: CharTokenizer(vocab: CharTokenizer.referenceVocab), eos: 0)
        let inBlock1: (any Error) -> Bool = { "\($0)".contains("in block 1") }
        for method in [PruningMethod.wanda, .sparsegpt] {
            var spec = PruningSpec()
            spec.method = method
            var copy = healthy
            _ = try ModelPruner(spec: spec, calibration: calibration).prune(&copy)  // the healthy model prunes
            copy = model
            #expect { try ModelPruner(spec: spec, calibration: calibration).prune(&copy) } throws: { inBlock1($0) }
        }
        for criterion in DepthCriterion.allCases {
            let selection = DepthSelection(criterion: criterion, calibration: calibration)
            #expect(try selection.scores(model: healthy).allSatisfy(\.isFinite))
            #expect { try selection.scores(model: model) } throws: { inBlock1($0) }
        }
        let examples = calibration.samples
        #expect(try LikelihoodEstimator(draws: 1).negativeLogLikelihood(model: healthy, examples: examples).allSatisfy(\.isFinite))
        #expect { try LikelihoodEstimator(draws: 1).negativeLogLikelihood(model: model, examples: examples) } throws: { inBlock1($0) }
    }
}

/// `pare inspect` shows provenance as one readable line per entry (issue #10); `--json` keeps it whole.
@Suite struct ProvenanceSummaryTests {
    @Test func entriesAreSummarizedOnOneLine() {
        let entry = #"{"op":"prune","layers":[{"block":0},{"block":1}],"sparsity":0.5,"tasks":{"add":1,"kv":2},"note":"a\nb","init_from":null}"#
        #expect(ModelSummary.summarize(entry) == #"prune  layers: 2 entries, note a\nb, sparsity 0.5, tasks: {add 1, kv 2}"#)
        #expect(ModelSummary.summarize("not json\n") == #"not json\n"#)
    }
}

extension ModelFileKindTests {
    /// A full disk (simulated by a file-size limit, with SIGXFSZ ignored so writes fail with
    /// EFBIG) fails the final flush: one error line, exit 1, nothing left behind. It used to
    /// crash closing the half-closed file twice, then again in HDF5's exit handler.
    @Test func aFullDiskIsAnErrorNotACrash() throws {
        let binary = try #require(SparseCommandLineTests.executable, "the pare executable is not next to the test bundle")
        let dir = Fixtures.temporaryDirectory().path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "trap '' XFSZ; ulimit -f 200; exec \"$0\" init --output m.h5 --d-model 256 --n-layers 2 --n-heads 4 --d-ff 512",
                             binary.path]
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        let errURL = URL(fileURLWithPath: dir + "/../full-disk-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let err = try String(contentsOf: errURL, encoding: .utf8).textLines.filter { !$0.hasPrefix("block ") && !$0.isEmpty }
        try? FileManager.default.removeItem(at: errURL)
        #expect(process.terminationReason == .exit && process.terminationStatus == 1)
        #expect(err.count == 1 && err.first?.hasPrefix("error: m.h5: cannot save") == true, "\(err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }
}

extension ModelFileKindTests {
    /// HDF5 loops forever reading a string attribute from this damaged global heap (found by
    /// experiments/corruption_campaign.py: bytes 3225..<6861 of the bundled model zeroed). The
    /// attribute's heap reference is now checked before HDF5 follows it, so the error names the
    /// attribute at once; the CLI's metadata deadline (set to 2 s here) stays as a second guard,
    /// and its message here would mean the check regressed.
    @Test func aHeapThatHDF5LoopsOnIsAnErrorNotAHang() throws {
        let binary = try #require(SparseCommandLineTests.executable, "the pare executable is not next to the test bundle")
        let dir = Fixtures.temporaryDirectory().path
        var bytes = try Data(contentsOf: URL(fileURLWithPath: BundledRecipeTests.path("models/pare-tiny.h5")))
        bytes.replaceSubrange(3225..<6861, with: Data(count: 6861 - 3225))
        let damaged = dir + "/heap.h5"
        try bytes.write(to: URL(fileURLWithPath: damaged))
        let process = Process()
        process.executableURL = binary
        process.arguments = ["inspect", "--model", damaged]
        process.environment = ProcessInfo.processInfo.environment.merging(["PARE_METADATA_TIMEOUT": "2"]) { $1 }
        let errURL = URL(fileURLWithPath: dir + "/stderr")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardOutput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        // A watchdog of our own, so a regression fails the test instead of hanging the suite.
        let killer = DispatchWorkItem { process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 20, execute: killer)
        process.waitUntilExit()
        killer.cancel()
        let err = try String(contentsOf: errURL, encoding: .utf8)
        #expect(process.terminationReason == .exit && process.terminationStatus == 1, "\(err)")
        #expect(err == "error: \(damaged): / attribute format has a damaged string: heap collection at 2048 has an object of impossible size 0\n")
        #expect(Date().timeIntervalSince(start) < 1.5, "well before the deadline")
    }
}
