import Foundation
import Testing
@testable import Pare

/// The `bpe` kind of `/tokenizer`: HF tokenizer files stored verbatim in a pare-dlm file, and
/// read from and written to HF folders.
@Suite("TokenizerStorage")
struct TokenizerStorageTests {
    typealias F = CheckpointFixtures

    /// Bytes that are not all text (0 and 0xFF included): the files are kept byte for byte.
    static let files = try! HFTokenizerFiles(files: [
        "vocab.json": Array(#"{"a": 0, "b": 1}"#.utf8) + [0, 0xFF, 0x80],
        "merges.txt": Array("#version: 0.2\na b\n".utf8),
        "added_tokens.json": Array("{}".utf8),
    ])

    /// A usable tokenizer (a model file's BPE must build): the Qwen2-layout fixture.
    static let modelFiles = try! HFTokenizerFiles.read(directory: Fixtures.path("bpe/qwen"))

    /// A small random model with the fixture tokenizer: ids 0..1459, and 4 spare embedding rows.
    static func bpeCheckpoint() -> Checkpoint {
        let config = ModelConfig(vocabSize: 1464, dModel: 8, nLayers: 2, nHeads: 2, nKVHeads: 1, dFF: 12,
                                 maxSeqLen: 32, maskTokenID: 1459, eosTokenID: 1456)
        return LLaDAModel.random(config: config, seed: 1).checkpoint(tokenizer: .bpe(modelFiles), provenance: [])
    }

    @Test func bpeFilesSurviveSaveAndEveryRewrite() throws {
        let path = try F.savedModel(Self.bpeCheckpoint())
        defer { F.cleanUp(path) }
        let reader = try CheckpointReader(path: path)
        #expect(reader.header.tokenizer == .bpe(Self.modelFiles))
        #expect(reader.header.vocab.isEmpty)
        #expect(try reader.readAll().tokenizer == .bpe(Self.modelFiles))

        // The block-by-block writer that prune, drop and finetune use carries it through.
        let copy = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("copy.h5").path
        try ModelFile.write(try LLaDAModel(reader: reader), tokenizer: reader.header.tokenizer, to: copy,
                            dtype: { _ in .bfloat16 }, linearEncoding: .csr, provenance: { [] })
        #expect(try CheckpointReader(path: copy).header.tokenizer == .bpe(Self.modelFiles))
    }

    /// Tokenizer files Pare cannot run are stored (as `pare convert` does, with a warning); the
    /// model opens and runs on token ids, and encoding text is an error with the reason.
    @Test func unusableBPETokenizerLeavesTheModelUsableOnIDs() throws {
        let dir = try F.scratchDirectory()
        defer { F.cleanUp(dir) }
        // The fixture vocabulary has ids up to 1459, beyond this model's 16.
        var checkpoint = F.checkpoint()
        checkpoint.tokenizer = .bpe(Self.modelFiles)
        let path = dir + "/model.h5"
        try checkpoint.save(to: path)
        let reason = "\(path): bad tokenizer: token id 1459 is outside the model's vocab_size 16"

        let loaded = try ModelFile.open(path)
        #expect(loaded.header.tokenizer == .bpe(Self.modelFiles))
        #expect(throws: TokenizerError.unsupported(reason + "; the model runs on token ids only")) { try loaded.tokenizer.encode("hi") }
        #expect(loaded.tokenizer.decode([1, 2]) == "<?><?>")

        let ids = try SparseCommandLineTests.pare(["generate", "--model", path, "--prompt-ids", "3,4", "--gen-length", "4", "--json"], in: dir)
        #expect(ids.status == 0, "\(ids.err)")
        let text = try SparseCommandLineTests.pare(["generate", "--model", path, "--prompt", "ab"], in: dir)
        #expect(text.status == 1 && text.err == "error: \(reason); the model runs on token ids only\n", "\(text.err)")
        let tokenize = try SparseCommandLineTests.pare(["tokenize", "--model", path, "--text", "ab"], in: dir)
        #expect(tokenize.status == 1 && tokenize.err == "error: \(reason)\n", "\(tokenize.err)")
    }

    @Test func damagedFileBytesAreReportedByName() throws {
        let path = try F.savedModel(Self.bpeCheckpoint())
        let file = try H5Handle.openFile(path, writable: true)
        // Rewritten in place: HDF5 updates its Fletcher-32 sums, so only the crc32 attribute can tell.
        let dataset = try file.openDataset("/tokenizer/files/merges.txt")
        var bytes = Self.modelFiles.files["merges.txt"]!
        bytes[3] ^= 0x01
        try bytes.withUnsafeBytes { try dataset.write($0, as: .uint8) }
        try dataset.close()
        try file.close()
        let error = F.loadError(path)
        guard case .badTokenizer? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(path): bad tokenizer: /tokenizer/files/merges.txt does not match its crc32 checksum (damaged bytes)")
    }

    @Test func malformedBPEStorageIsAnError() throws {
        // Each damage closes what it opens before the file closes: a handle left to ARC was seen
        // to keep the file locked once in about ten full runs ("unable to lock file" on reading).
        func damaged(_ damage: (H5Handle) throws -> Void) throws -> String {
            let path = try F.savedModel(Self.bpeCheckpoint())
            let file = try H5Handle.openFile(path, writable: true)
            try damage(file)
            try file.close()
            return path
        }
        let cases: [(String, (H5Handle) throws -> Void)] = [
            ("/tokenizer/files/merges.txt has no crc32 attribute",
             { let d = try $0.openDataset("/tokenizer/files/merges.txt"); try d.deleteAttribute("crc32"); try d.close() }),
            ("/tokenizer/files/evil.py is not a tokenizer file Pare keeps",
             { try F.replaceDataset($0, "/tokenizer/files/evil.py", .uint8, shape: [1], values: [1]) }),
            ("/tokenizer/files/vocab.json holds float32, expected uint8 bytes",
             { try F.replaceDataset($0, "/tokenizer/files/vocab.json", .float32, shape: [1], values: [1]) }),
            ("/tokenizer/files: no tokenizer.json, and not both vocab.json and merges.txt",
             { try $0.deleteLink("/tokenizer/files/merges.txt") }),
            ("kind is \"bpe\" but group /tokenizer/files is missing", { try $0.deleteLink("/tokenizer/files") }),
            ("kind is \"wordpiece\", expected \"char\" or \"bpe\"",
             { let g = try $0.openGroup("/tokenizer"); try g.writeAttribute("kind", .string("wordpiece")); try g.close() }),
        ]
        for (expected, damage) in cases {
            let path = try damaged(damage)
            let error = F.loadError(path)
            guard case .badTokenizer? = error else { Issue.record("\(expected): got \(String(describing: error))"); continue }
            #expect(error?.description.hasPrefix("\(path): bad tokenizer: \(expected)") == true, "\(String(describing: error))")
        }
    }

    @Test func hfFolderReadAndWrittenBack() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("hf"), out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        for (name, bytes) in Self.files.files where name != "vocab.json" {
            try Data(bytes).write(to: source.appendingPathComponent(name))
        }
        // Not a tokenizer file: ignored.
        try Data("{}".utf8).write(to: source.appendingPathComponent("config.json"))
        #expect(throws: HFTokenizerFiles.Problem(reason: "\(source.path): no tokenizer.json, and not both vocab.json and merges.txt")) {
            try HFTokenizerFiles.read(directory: source.path)
        }
        // The HF cache links snapshot files to blobs: links are followed.
        let blob = dir.appendingPathComponent("blob")
        try Data(Self.files.files["vocab.json"]!).write(to: blob)
        try FileManager.default.createSymbolicLink(at: source.appendingPathComponent("vocab.json"), withDestinationURL: blob)

        let read = try HFTokenizerFiles.read(directory: source.path)
        #expect(read == Self.files)
        #expect(read.orderedNames == ["vocab.json", "merges.txt", "added_tokens.json"])
        try read.write(to: out.path)
        #expect(try HFTokenizerFiles.read(directory: out.path) == Self.files)
        #expect(throws: HFTokenizerFiles.Problem.self) { try HFTokenizerFiles.read(directory: blob.path) }
    }
}
