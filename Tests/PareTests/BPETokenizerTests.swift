import Foundation
import Testing
@testable import Pare

/// Byte-level BPE against the Hugging Face reference: Fixtures/bpe/make_bpe_fixtures.py trained
/// three small tokenizers (LLaDA/Llama-3 tokenizer.json, Dream/Qwen2 vocab.json + merges.txt, and
/// a tokenizer.json whose ByteLevel splits with GPT-2's regex) and wrote the ids `tokenizers` /
/// `transformers` give for 1100 varied lines.
@Suite struct BPETokenizerTests {
    struct Layout {
        let folder: String
        let ids: [[Int]]
        let decoded: [String]
        let vocabularySize: Int
        /// The ids of each chat message in the model's chat format, from `apply_chat_template`.
        let chatIDs: [[Int]]
    }

    static let cases: (lines: [String], chatMessages: [String], layouts: [String: Layout]) = {
        let data = FileManager.default.contents(atPath: Fixtures.path("bpe/cases.json"))!
        let root = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
        var layouts: [String: Layout] = [:]
        for name in ["llama", "qwen", "gpt2"] {
            let layout = root[name] as! [String: Any]
            layouts[name] = Layout(folder: Fixtures.path("bpe/\(name)"), ids: layout["ids"] as! [[Int]],
                                   decoded: layout["decoded"] as! [String], vocabularySize: layout["vocab_size"] as! Int,
                                   chatIDs: layout["chat_ids"] as! [[Int]])
        }
        return (root["lines"] as! [String], root["chat_messages"] as! [String], layouts)
    }()

    /// The tokenizer of a fixture folder, for a model with a few spare embedding rows.
    static func tokenizer(_ name: String) throws -> BPETokenizer {
        let layout = cases.layouts[name]!
        return try BPETokenizer(files: try HFTokenizerFiles.read(directory: layout.folder), vocabularySize: layout.vocabularySize + 7)
    }

    @Test(arguments: ["llama", "qwen", "gpt2"])
    func encodesEveryLineLikeTheReference(_ name: String) throws {
        let tokenizer = try Self.tokenizer(name)
        let layout = Self.cases.layouts[name]!
        #expect(Self.cases.lines.count >= 1000)
        var mismatches = 0
        for (i, line) in Self.cases.lines.enumerated() {
            let ids = try tokenizer.encode(line)
            if ids != layout.ids[i] {
                mismatches += 1
                if mismatches <= 5 { Issue.record("\(name) line \(i) \"\(line.escapedForOneLine)\": got \(ids), expected \(layout.ids[i])") }
            }
            #expect(tokenizer.decode(layout.ids[i]) == layout.decoded[i], "\(name) line \(i): decoding")
        }
        #expect(mismatches == 0, "\(name): \(mismatches) of \(Self.cases.lines.count) lines differ")
    }

    @Test func gpt2LayoutRoundTrips() throws {
        let tokenizer = try Self.tokenizer("gpt2")
        for line in Self.cases.lines { #expect(tokenizer.decode(try tokenizer.encode(line)) == line, "\"\(line.escapedForOneLine)\"") }
        // A pre-tokenizer sequence of one step is that step.
        let wrapped = try BPETokenizer(files: try Self.editedTokenizerJSON("gpt2") { $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [$0["pre_tokenizer"]!]] },
                                       vocabularySize: Self.cases.layouts["gpt2"]!.vocabularySize)
        for i in 0..<100 { #expect(try wrapped.encode(Self.cases.lines[i]) == Self.cases.layouts["gpt2"]!.ids[i]) }
    }

    @Test func llamaLayoutRoundTripsWithoutItsTemplate() throws {
        let tokenizer = try Self.tokenizer("llama")
        let bos = try #require(tokenizer.addedTokenID("<|startoftext|>"))
        for line in Self.cases.lines {
            let ids = tokenizer.encode(line, addingSpecialTokens: false)
            #expect(try tokenizer.encode(line) == [bos] + ids)
            #expect(tokenizer.decode(ids) == line, "\"\(line.escapedForOneLine)\"")
        }
        // Ids past the tokenizer's tokens (spare embedding rows) decode visibly.
        #expect(tokenizer.decode([tokenizer.vocabularySize - 1]) == "<?>")
    }

    @Test func qwenLayoutNormalizesToNFC() throws {
        let tokenizer = try Self.tokenizer("qwen")
        #expect(try tokenizer.encode("cafe\u{301}") == tokenizer.encode("caf\u{E9}"))
        #expect(tokenizer.decode(try tokenizer.encode("A\u{30A}")) == "\u{C5}")
    }

    /// A copy of a fixture's tokenizer.json with one field changed.
    static func editedTokenizerJSON(_ name: String = "llama", _ edit: (inout [String: Any]) -> Void) throws -> HFTokenizerFiles {
        let data = try #require(FileManager.default.contents(atPath: Fixtures.path("bpe/\(name)/tokenizer.json")))
        var root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        edit(&root)
        return try HFTokenizerFiles(files: ["tokenizer.json": [UInt8](try JSONSerialization.data(withJSONObject: root))])
    }

    @Test func unsupportedFeaturesAreNamed() throws {
        func expectError(_ expected: String, vocabularySize: Int = 5000, _ edit: (inout [String: Any]) -> Void) throws {
            let files = try Self.editedTokenizerJSON("llama", edit)
            #expect(throws: TokenizerError.malformed(expected)) { try BPETokenizer(files: files, vocabularySize: vocabularySize) }
        }
        try expectError(#"tokenizer.json: model type "WordPiece" is not supported (only BPE)"#) {
            var model = $0["model"] as! [String: Any]
            model["type"] = "WordPiece"
            $0["model"] = model
        }
        try expectError(#"tokenizer.json: normalizer "NFKC" is not supported (only NFC)"#) { $0["normalizer"] = ["type": "NFKC"] }
        try expectError(#"tokenizer.json: Split pattern "\s+" is not one Pare knows (Llama-3, Qwen2 or GPT-2)"#) {
            var pre = $0["pre_tokenizer"] as! [String: Any]
            var steps = pre["pretokenizers"] as! [[String: Any]]
            steps[0]["pattern"] = ["Regex": #"\s+"#]
            pre["pretokenizers"] = steps
            $0["pre_tokenizer"] = pre
        }
        try expectError(#"tokenizer.json: BPE byte_fallback is not supported"#) {
            var model = $0["model"] as! [String: Any]
            model["byte_fallback"] = true
            $0["model"] = model
        }
        try expectError("token id 1656 is outside the model's vocab_size 1000", vocabularySize: 1000) { _ in }
        #expect(throws: TokenizerError.malformed("tokenizer.json is not valid JSON")) {
            try BPETokenizer(files: HFTokenizerFiles(files: ["tokenizer.json": Array("{\"model\": ".utf8)]), vocabularySize: 10)
        }
    }

    /// A small random model in a pare-dlm file with the `name` fixture's tokenizer stored in it.
    static func modelFile(_ name: String, in dir: String) throws -> String {
        let files = try HFTokenizerFiles.read(directory: cases.layouts[name]!.folder)
        let tokenizer = try BPETokenizer(files: files, vocabularySize: cases.layouts[name]!.vocabularySize)
        let mask = try #require(tokenizer.addedTokenID(name == "llama" ? "<|mdm_mask|>" : "<|mask|>"))
        let eos = try #require(tokenizer.addedTokenID("<|endoftext|>"))
        let config = ModelConfig(vocabSize: cases.layouts[name]!.vocabularySize + 5, dModel: 8, nLayers: 1, nHeads: 2, nKVHeads: 1,
                                 dFF: 12, maxSeqLen: 64, maskTokenID: mask, eosTokenID: eos)
        let path = dir + "/\(name).h5"
        try LLaDAModel.random(config: config, seed: 3).checkpoint(tokenizer: .bpe(files), provenance: []).save(to: path)
        return path
    }

    @Test(arguments: ["llama", "qwen"])
    func modelFileCarriesTheTokenizer(_ name: String) throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.modelFile(name, in: dir.path)
        let loaded = try ModelFile.open(path)
        #expect(loaded.tokenizer is BPETokenizer)
        #expect(loaded.tokenizer.vocabularySize == Self.cases.layouts[name]!.vocabularySize + 5)
        for i in stride(from: 0, to: Self.cases.lines.count, by: 50) {
            #expect(try loaded.tokenizer.encode(Self.cases.lines[i]) == Self.cases.layouts[name]!.ids[i])
        }
    }

    @Test func chatFormatsMatchTheModelsTemplates() throws {
        for (name, format) in [("llama", ChatFormat.llada), ("qwen", ChatFormat.dream)] {
            let tokenizer = try Self.tokenizer(name)
            for (message, expected) in zip(Self.cases.chatMessages, Self.cases.layouts[name]!.chatIDs) {
                #expect(try format.encode(user: message, with: tokenizer) == expected, "\(format) \"\(message.escapedForOneLine)\"")
            }
        }
        // An answer ends at the end of the assistant's turn, or at eos.
        let llama = try Self.tokenizer("llama")
        let (eot, eos) = (try #require(llama.addedTokenID("<|eot_id|>")), try #require(llama.addedTokenID("<|endoftext|>")))
        let reply = llama.encode("Hi there", addingSpecialTokens: false), junk = llama.encode("junk", addingSpecialTokens: false)
        #expect(ChatFormat.llada.answer(reply + [eot] + junk, tokenizer: llama, eos: eos) == "Hi there")
        #expect(ChatFormat.llada.answer(reply + [eos] + junk, tokenizer: llama, eos: eos) == "Hi there")
        // The same through the --chat tokenizer, called as `any Tokenizer` (as generate does).
        let chat: any Tokenizer = try ChatTokenizer(format: .llada, base: llama)
        #expect(chat.decodeAnswer(reply + [eot] + junk, eos: eos) == "Hi there")
        #expect(try chat.encode(Self.cases.chatMessages[0]) == Self.cases.layouts["llama"]!.chatIDs[0])
        // The llama fixture lacks Dream's tokens, and a char vocabulary has no chat format.
        #expect(throws: TokenizerError.unsupported("the dream chat format needs the special token <|im_start|>, which this model's tokenizer lacks")) {
            try ChatFormat.dream.encode(user: "hi", with: try Self.tokenizer("llama"))
        }
        #expect(throws: TokenizerError.self) {
            try ChatFormat.llada.encode(user: "hi", with: CharTokenizer(vocab: CharTokenizer.referenceVocab))
        }
    }

    @Test func tokenizeCommandPrintsTheIDs() throws {
        let dir = Fixtures.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try Self.modelFile("llama", in: dir)
        let line = 40
        let plain = try CommandLineTests.json(["tokenize", "--model", model, "--text", Self.cases.lines[line]], in: dir)
        #expect(plain as NSDictionary == ["ids": Self.cases.layouts["llama"]!.ids[line]] as NSDictionary)
        let chat = try CommandLineTests.json(["tokenize", "--model", model, "--text", Self.cases.chatMessages[1], "--chat"], in: dir)
        #expect(chat["ids"] as? [Int] == Self.cases.layouts["llama"]!.chatIDs[1])

        let inspect = try CommandLineTests.json(["inspect", "--model", model], in: dir)
        #expect(inspect["tokenizer"] as? NSDictionary == ["kind": "bpe", "files": ["tokenizer.json", "tokenizer_config.json"]] as NSDictionary)

        // One "id  \"piece\"" line per token, then the count.
        let hello = 7
        #expect(Self.cases.lines[hello] == "Hello world")
        let readable = try SparseCommandLineTests.pare(["tokenize", "--model", model, "--text", Self.cases.lines[hello]], in: dir)
        #expect(readable.status == 0)
        let rows = readable.out.textLines.filter { !$0.isEmpty }
        let expected = Self.cases.layouts["llama"]!.ids[hello]
        #expect(rows.dropLast().map { Int($0.split(separator: " ").first ?? "") } == expected, "\(readable.out)")
        #expect(rows.last.map(String.init) == "\(expected.count) tokens")
        #expect(rows.contains { $0.hasSuffix("\"<|startoftext|>\"") } && rows.contains { $0.hasSuffix("\" world\"") }, "\(readable.out)")

        // generate --chat runs the sampler on the chat prompt (a random model: only the shape is checked).
        let generated = try CommandLineTests.json(["generate", "--model", model, "--prompt", "Hi", "--chat", "--gen-length", "4"], in: dir)
        #expect((generated["tokens"] as? [Int])?.count == 4 && generated["text"] is String, "\(generated)")

        let charChat = try SparseCommandLineTests.pare(["tokenize", "--text", "12+34=", "--chat"], in: dir)
        #expect(charChat.status == 1)
        #expect(charChat.err == "error: chat formats need a BPE tokenizer; this model's tokenizer is a character vocabulary\n")
        let generateChat = try SparseCommandLineTests.pare(["generate", "--prompt", "12+34=", "--chat"], in: dir)
        #expect(generateChat.status == 1 && generateChat.err.hasPrefix("error: chat formats need a BPE tokenizer"))
    }

    /// Damaged tokenizer files (cut short, bytes flipped, seeded) give a TokenizerError or a
    /// working tokenizer, never a trap.
    @Test func damagedTokenizerFilesFailCleanly() throws {
        var rng = CheckpointFixtures.RNG(seed: 11)
        for name in ["llama", "qwen"] {
            let files = try HFTokenizerFiles.read(directory: Self.cases.layouts[name]!.folder)
            for round in 0..<60 {
                var damaged = files.files
                let file = files.orderedNames[Int(rng.next() % UInt64(files.orderedNames.count))]
                var bytes = damaged[file]!
                if round % 2 == 0 {
                    bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count + 1))))
                } else {
                    for _ in 0..<(1 + rng.next() % 8) { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
                }
                damaged[file] = bytes
                do {
                    let tokenizer = try BPETokenizer(files: try HFTokenizerFiles(files: damaged), vocabularySize: 5000)
                    _ = try tokenizer.encode(Self.cases.lines[round])
                } catch is TokenizerError {
                } catch is HFTokenizerFiles.Problem {
                }
            }
        }
        // Through a model file whose checksum matches the damaged bytes (a tool that stored
        // garbage): one error line naming the file and the problem.
        let dir = Fixtures.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try Self.modelFile("llama", in: dir)
        let h5 = try H5Handle.openFile(model, writable: true)
        let garbage = Array("{\"model\": [".utf8)
        try CheckpointFixtures.replaceDataset(h5, "/tokenizer/files/tokenizer.json", .uint8, shape: [garbage.count], values: garbage.map(Double.init))
        try h5.openDataset("/tokenizer/files/tokenizer.json").writeAttribute("crc32", .int(Int64(CRC32.checksum(garbage))))
        try h5.close()
        let run = try SparseCommandLineTests.pare(["tokenize", "--model", model, "--text", "hi"], in: dir)
        #expect(run.status == 1)
        #expect(run.err == "error: \(model): bad tokenizer: tokenizer.json is not valid JSON\n")
    }

    @Test func gpt2PatternSplitsLikeItsRegex() {
        // ByteLevel's own split (use_regex: true), checked by hand against the regex.
        let text = Array("I'm  here: 123 ab!? \n x".unicodeScalars)
        let pieces = PreTokenizerPattern.gpt2.split(text).map { String(String.UnicodeScalarView(text[$0])) }
        #expect(pieces == ["I", "'m", " ", " here", ":", " 123", " ab", "!?", " \n", " x"])
    }
}

extension TokenizerError: Equatable {
    public static func == (a: TokenizerError, b: TokenizerError) -> Bool { a.description == b.description }
}
