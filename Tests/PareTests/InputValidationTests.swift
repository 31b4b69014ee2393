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

    @Test func sweepRecipesRejectUnknownKeysAndOutOfRangeValues() throws {
        for bad in ["sample: 10\n", "calibration_samples: 0\n", "calibration_samples: -1\n", "samples: 0\n",
                    "calibration_mask_ratio: 2\n", "calibration_mask_ratio: .nan\n",
                    "variants:\n  - {kind: prune, method: wanda, sparsity: 0.5, patern: 2:4}\n",
                    "variants:\n  - {kind: quantise}\n"] {
            let path = try Self.write(bad, "sweep.yaml")
            #expect(throws: PruningError.self, "\(bad)") { try CompressionSweep.Recipe.load(path: path) }
        }
        let good = try CompressionSweep.Recipe.load(path: Self.write("samples: 20\nvariants:\n  - {kind: drop, count: 1}\n", "ok.yaml"))
        #expect(good.samples == 20 && good.variants.count == 1)
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
}
