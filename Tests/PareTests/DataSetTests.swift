import Foundation
import Testing
@testable import Pare

/// User data sets (issue #11, item 5): the JSONL reader, answer matching, the standard error,
/// and `eval --data` / `--calibration` / `finetune --data` on the same file.
@Suite struct DataSetTests {
    static let tiny = Fixtures.path("data/tiny.jsonl")
    static let numbers = Fixtures.path("data/numbers.jsonl")

    @Test func normalisationIsNFCTrimmedAndCollapsed() {
        // A decomposed e + combining acute is the precomposed é after NFC.
        #expect(AnswerMatch.normalize("cafe\u{301}") == "caf\u{E9}")
        #expect(AnswerMatch.normalize("  a \t b\n\n c\r\n") == "a b c")
        // No-break space and ideographic space are Unicode White_Space too.
        #expect(AnswerMatch.normalize("\u{A0}x\u{3000}\u{3000}y") == "x y")
        #expect(AnswerMatch.normalize("Paris.") != AnswerMatch.normalize("paris"), "case and punctuation are kept")
        #expect(AnswerMatch.normalize(" \n\t") == "")
        #expect(AnswerMatch.exact.matches(generated: "  New   York ", answer: "New York"))
        #expect(!AnswerMatch.exact.matches(generated: "New York City", answer: "New York"))
        #expect(AnswerMatch.contains.matches(generated: "it is New\nYork, I think", answer: " New York"))
        #expect(!AnswerMatch.contains.matches(generated: "NewYork", answer: "New York"))
    }

    @Test func numbersAreFoundAsDocumented() {
        let cases: [(String, String?)] = [
            ("The answer is 72.", "72"),
            ("3 apples and 4 pears: 7", "7"),
            ("#### 1,234", "1234"),
            ("$1,000,000.50 in total", "1000000.5"),
            ("12,34", "34"),            // "," then 2 digits is no thousands group: 12 and 34
            ("1234,567", "567"),        // groups only after 1-3 leading digits
            ("x = -5", "-5"),
            ("3-2", "2"),               // a "-" after a digit is a minus, not a sign
            ("x-5", "5"),
            ("-0.00", "0"),
            ("007", "7"),
            ("2.50%", "2.5"),
            ("1.5.3", "3"),
            ("no digits here", nil),
            ("٣", nil),                 // ASCII digits only
        ]
        for (text, want) in cases {
            #expect(AnswerMatch.lastNumber(in: text)?.value == want, "\(text)")
        }
        #expect(AnswerMatch.numbers(in: "from 1,000 to -2.5").map(\.text) == ["1,000", "-2.5"])
        #expect(AnswerMatch.number.matches(generated: "so it is 1,000", answer: "#### 1000.0"))
        #expect(!AnswerMatch.number.matches(generated: "so it is 100", answer: "1000"))
        #expect(!AnswerMatch.number.matches(generated: "none", answer: "0"))
    }

    @Test func standardErrorIsBinomial() {
        // sqrt(0.75 * 0.25 / 4) = sqrt(0.046875), by hand.
        #expect(abs(AnswerMatch.standardError(accuracy: 0.75, samples: 4) - 0.21650635094610965) < 1e-15)
        #expect(AnswerMatch.standardError(accuracy: 1, samples: 10) == 0)
        #expect(AnswerMatch.standardError(accuracy: 0.5, samples: 100) == 0.05)
    }

    static func parseError(_ text: String) -> String? {
        parseError(Data(text.utf8))
    }

    static func parseError(_ data: Data) -> String? {
        do { _ = try DataSet.parse(data, path: "d.jsonl"); return nil } catch { return "\(error)" }
    }

    @Test func badJSONLNamesTheFileAndLine() {
        let ok = #"{"prompt": "a", "answer": "b"}"# + "\n"
        let cases: [(String, String)] = [
            (ok + "[1, 2]\n", "d.jsonl:2: expected a JSON object"),
            (ok + "\"text\"\n", "d.jsonl:2: expected a JSON object"),
            (ok + #"{"prompt": "a"}"#, "d.jsonl:2: missing field \"answer\""),
            (ok + "\n" + #"{"prompt": "a", "answer": "b", "id": 3}"#, "d.jsonl:3: unknown field \"id\""),
            (#"{"prompt": 1, "answer": "b"}"#, "d.jsonl:1: field \"prompt\" is not a string"),
            (#"{"prompt": "a", "answer": null}"#, "d.jsonl:1: field \"answer\" is not a string"),
            (#"{"prompt": "a", "answer": true}"#, "d.jsonl:1: field \"answer\" is not a string"),
            (#"{"prompt": "a", "answer": "b""#, "d.jsonl:1: not valid JSON"),
            ("", "d.jsonl: no samples"),
            ("\n  \n\r\n", "d.jsonl: no samples"),
        ]
        for (text, want) in cases {
            let error = Self.parseError(text)
            #expect(error?.hasPrefix(want) == true, "\(text.debugDescription): \(error ?? "no error")")
        }
        var invalid = Data(ok.utf8)
        invalid.append(contentsOf: [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D, 0x0A])
        #expect(Self.parseError(invalid) == "d.jsonl:2: not valid UTF-8")
        let huge = #"{"prompt": ""# + String(repeating: "x", count: DataSet.maxLineBytes) + #"", "answer": "b"}"#
        #expect(Self.parseError(huge)?.hasPrefix("d.jsonl:1: \(huge.utf8.count) bytes, more than") == true)
    }

    @Test func readerKeepsLinesAndAcceptsCRLFAndBOM() throws {
        var data = Data([0xEF, 0xBB, 0xBF])
        data.append(Data("{\"prompt\": \"1+1=\", \"answer\": \"2\"}\r\n\r\n{\"answer\": \"caf\u{E9}\", \"prompt\": \"\"}".utf8))
        let set = try DataSet.parse(data, path: "d.jsonl")
        #expect(set.samples == [.init(prompt: "1+1=", answer: "2", line: 1), .init(prompt: "", answer: "caf\u{E9}", line: 3)])
        let fixture = try DataSet.read(Self.tiny)
        #expect(fixture.samples.map(\.line) == [1, 2, 4, 5])
        let folder = Fixtures.temporaryDirectory().path
        #expect(throws: DataSetError.self) { try DataSet.read(folder) }
        #expect(throws: DataSetError.self) { try DataSet.read(folder + "/missing.jsonl") }
    }

    /// The same samples as JSONL and as PROMPT<TAB>ANSWER lines give the same calibration
    /// inputs and the same fine-tuning examples.
    @Test func calibrationAndFinetuningReadJSONL() throws {
        let tokenizer = CharTokenizer(vocab: CharTokenizer.referenceVocab)
        let folder = Fixtures.temporaryDirectory().path
        let tsv = folder + "/same.txt"
        try "47+85=\t132\nrev:hello=\tolleh\na:3,q:7,m:1?q=\t7\n12+30=\t41\n".write(toFile: tsv, atomically: true, encoding: .utf8)
        let fromJSONL = try CalibrationSet.file(Self.tiny, limit: nil, tokenizer: tokenizer)
        let fromTSV = try CalibrationSet.file(tsv, limit: nil, tokenizer: tokenizer)
        #expect(fromJSONL.samples.count == 4)
        #expect(fromJSONL.samples.map(\.prompt) == fromTSV.samples.map(\.prompt))
        #expect(fromJSONL.samples.map(\.answer) == fromTSV.samples.map(\.answer))
        #expect(fromJSONL.sequences(maskID: 1) == fromTSV.sequences(maskID: 1))
        #expect(try CalibrationSet.file(Self.tiny, limit: 2, tokenizer: tokenizer).samples.count == 2)

        let eos = 0
        let tuneJSONL = try Finetuner.readData(Self.tiny, tokenizer: tokenizer, eos: eos)
        let tuneTSV = try Finetuner.readData(tsv, tokenizer: tokenizer, eos: eos)
        #expect(tuneJSONL.map(\.prompt) == tuneTSV.map(\.prompt) && tuneJSONL.map(\.answer) == tuneTSV.map(\.answer))
        #expect(tuneJSONL[0].answer == [3, 5, 4] + [Int](repeating: eos, count: 9))

        // A character the vocabulary lacks names the line.
        let bad = folder + "/bad.jsonl"
        try "{\"prompt\": \"1+1=\", \"answer\": \"2\"}\n{\"prompt\": \"1+1=\", \"answer\": \"TWO\"}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(throws: DataSetError.self) { try CalibrationSet.file(bad, limit: nil, tokenizer: tokenizer) }
        do { _ = try CalibrationSet.file(bad, limit: nil, tokenizer: tokenizer) } catch { #expect("\(error)".hasPrefix(bad + ":2: ")) }
    }

    /// The same file through `prune --calibration` and `finetune --data` on the command line.
    @Test func pruneAndFinetuneTakeJSONLOnTheCommandLine() throws {
        let dir = Fixtures.temporaryDirectory().path
        let m = CommandLineTests.model
        let prune = try CommandLineTests.json(["prune", "--model", m, "--sparsity", "0.5", "--method", "magnitude",
                                               "--calibration", Self.tiny, "--output", "p.h5"], in: dir)
        let calibration = try #require(prune["calibration"] as? [String: Any])
        #expect(calibration["samples"] as? Int == 4 && calibration["source"] as? String == "file:" + Self.tiny)

        let bad = dir + "/bad.jsonl"
        try "{\"prompt\": \"1+1=\", \"answer\": \"2\"}\n{\"prompt\": \"1+1=\"}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        for arguments in [["prune", "--model", m, "--sparsity", "0.5", "--calibration", bad, "--output", "q.h5"],
                          ["finetune", "--model", "p.h5", "--method", "seft", "--steps", "1", "--data", bad, "--output", "f.h5"]] {
            let r = try Self.pare(arguments, in: dir)
            #expect(r.status == 1 && r.err == "error: \(bad):2: missing field \"answer\"\n", "\(arguments[0]): \(r.err)")
        }
    }

    static func pare(_ arguments: [String], in dir: String) throws -> (status: Int32, out: String, err: String) {
        try SparseCommandLineTests.pare(arguments, in: dir)
    }

    /// `eval --data` end to end on the bundled model: 3 of the 4 answers are right (the 4th is
    /// wrong on purpose), the standard error is sqrt(0.75 * 0.25 / 4), and the sample log has
    /// one line per sample in file order.
    @Test func evalDataEndToEnd() throws {
        let dir = Fixtures.temporaryDirectory().path
        let m = CommandLineTests.model
        let out = try CommandLineTests.json(["eval", "--model", m, "--data", Self.tiny, "--log-samples", "log.jsonl"], in: dir)
        let tasks = try #require(out["tasks"] as? [String: Any])
        #expect(tasks.keys.sorted() == ["tiny.jsonl"], "only the data set without --tasks")
        let r = try #require(tasks["tiny.jsonl"] as? [String: Any])
        #expect(r["accuracy"] as? Double == 0.75 && r["samples"] as? Int == 4)
        #expect(abs((r["accuracy_stderr"] as? Double ?? 0) - 0.21650635094610965) < 1e-12)
        #expect(r["nfe_mean"] as? Double == 12, "default gen length 12, one token per step")

        let log = try String(contentsOfFile: dir + "/log.jsonl", encoding: .utf8).textLines.filter { !$0.isEmpty }
        let entries = try log.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(entries.map { $0["line"] as? Int } == [1, 2, 4, 5])
        #expect(entries.map { $0["correct"] as? Bool } == [true, true, true, false])
        #expect(entries.map { $0["generated"] as? String } == ["132", "olleh", "7", "42"])
        #expect(entries.map { $0["answer"] as? String } == ["132", "olleh", "7", "41"])
        #expect(entries[0]["prompt"] as? String == "47+85=")
        #expect(entries.allSatisfy { ($0["tokens"] as? [Int])?.count == 12 && $0["nfe"] as? Int == 12 })
        #expect((entries[0]["tokens"] as? [Int])?.prefix(4) == [3, 5, 4, 0], "132 then EOS")
        #expect(try SparseCommandLineTests.files(dir) == ["log.jsonl"], "no temporary left")

        // --match number: "the sum is 132", "25.0" and "198." match; "-2" does not match "2".
        let numbers = try CommandLineTests.json(["eval", "--model", m, "--data", Self.numbers, "--match", "number", "--tasks", "add", "--samples", "2"], in: dir)
        let byTask = try #require(numbers["tasks"] as? [String: Any])
        #expect(byTask.keys.sorted() == ["add", "numbers.jsonl"])
        #expect((byTask["numbers.jsonl"] as? [String: Any])?["accuracy"] as? Double == 0.75)
        #expect((byTask["add"] as? [String: Any])?["accuracy_stderr"] != nil)

        // Text output shows the standard error; --likelihood scores the answers too.
        let text = try Self.pare(["eval", "--model", m, "--data", Self.tiny, "--match", "contains",
                                  "--likelihood", "--likelihood-draws", "2"], in: dir)
        #expect(text.status == 0 && text.out.contains("75.0 % +- 21.7") && text.out.contains("NLL/token"), "\(text.out)")
    }

    @Test func evalDataRefusesWhatItCannotScore() throws {
        let dir = Fixtures.temporaryDirectory().path
        let m = CommandLineTests.model
        let bad = dir + "/bad.jsonl"
        try "{\"prompt\": \"1+1=\", \"answer\": \"2\"}\n{\"prompt\": \"1+1=\", \"answer\": 2}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let long = dir + "/long.jsonl"
        try "{\"prompt\": \"rev:abc=\", \"answer\": \"abcdefghijklmnopqrst\"}\n".write(toFile: long, atomically: true, encoding: .utf8)
        let cases: [([String], Int32, String)] = [
            (["--data", bad], 1, "error: \(bad):2: field \"answer\" is not a string"),
            (["--data", Self.tiny, "--match", "number"], 1, "error: \(Self.tiny):2: the answer \"olleh\" has no number"),
            (["--data", Self.tiny, "--gen-length", "2"], 1, "error: \(Self.tiny):1: the answer takes 3 tokens, more than --gen-length 2"),
            (["--data", long, "--gen-length", "12"], 1, "error: \(long):1: the answer takes 20 tokens"),
            (["--data", Self.tiny, "--log-samples", dir], 1, "error: cannot write \(dir): it is a directory"),
            (["--match", "number"], 64, "--match applies to --data only"),
            (["--data", Self.tiny, "--match", "fuzzy"], 64, "fuzzy"),
        ]
        for (arguments, status, message) in cases {
            let r = try Self.pare(["eval", "--model", m] + arguments, in: dir)
            #expect(r.status == status && r.err.contains(message), "\(arguments): exit \(r.status): \(r.err)")
            if status == 1 { #expect(r.err.filter { $0 == "\n" }.count == 1, "one line: \(r.err)") }
        }
        // Without --gen-length the canvas grows to fit the longest answer plus its EOS.
        let fits = try CommandLineTests.json(["eval", "--model", m, "--data", long], in: dir)
        #expect(((fits["tasks"] as? [String: Any])?["long.jsonl"] as? [String: Any])?["nfe_mean"] as? Double == 21)
    }
}
