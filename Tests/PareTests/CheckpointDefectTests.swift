import Foundation
import Testing
@testable import Pare

/// Every defect docs/format.md names gives its own `CheckpointError`, whose one-line message names the
/// file and the tensor or attribute.
@Suite("Checkpoint defects")
struct CheckpointDefectTests {
    typealias F = CheckpointFixtures

    @Test func missingTensor() throws {
        let name = "model.transformer.blocks.1.ff_out.weight"
        let path = try F.damagedModel { try $0.deleteLink(Checkpoint.datasetPath(for: name)) }
        let error = F.loadError(path)
        guard case .missingTensor(_, name)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(path): tensor \(name) is missing")
    }

    /// A tensor declared but never written (a small file that claims huge tensors) is an error
    /// found before anything of its declared size is allocated.
    @Test func unwrittenTensorData() throws {
        let name = "model.transformer.blocks.0.ff_proj.weight"
        let path = try F.damagedModel { file in
            let shape = try file.openDataset(Checkpoint.datasetPath(for: name)).shape()
            try file.deleteLink(Checkpoint.datasetPath(for: name))
            try file.createDataset(Checkpoint.datasetPath(for: name), of: .float32, shape: shape).close()
        }
        let error = F.loadError(path)
        guard case .corrupt(_, "tensor \(name)", let reason)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(reason.contains("data never written"), "\(reason)")
    }

    /// A declared max_seq_len of 10^8 costs nothing at load: RoPE tables are made per batch.
    @Test func hugeMaxSeqLenLoadsAndRuns() throws {
        var config = F.config
        config.maxSeqLen = 100_000_000
        var c = F.checkpoint()
        c.config = config
        let path = Fixtures.temporaryDirectory().appendingPathComponent("long.h5").path
        try c.save(to: path)
        let model = try ModelFile.open(path, residency: .resident).weights
        #expect(try model.logits([[2, 3, 4]]).shape == [3, config.vocabSize])
        #expect(peakResidentMemoryMiB().map { $0 < 4096 } ?? true)
    }

    @Test func wrongShape() throws {
        let name = "model.transformer.blocks.0.q_proj.weight"
        let path = try F.damagedModel {
            try F.replaceDataset($0, Checkpoint.datasetPath(for: name), .float32, shape: [4, 8], values: Array(repeating: 0, count: 32))
        }
        let error = F.loadError(path)
        guard case .wrongShape(_, name, [4, 8], [8, 8])? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(path): tensor \(name) has shape [4, 8], expected [8, 8]")
    }

    @Test(arguments: [H5Scalar.float64, .int32])
    func wrongDType(_ scalar: H5Scalar) throws {
        let name = "model.transformer.ln_f.weight"
        let path = try F.damagedModel {
            try F.replaceDataset($0, Checkpoint.datasetPath(for: name), scalar, shape: [8], values: Array(repeating: 1, count: 8))
        }
        let error = F.loadError(path)
        guard case .wrongDType(_, name, scalar.rawValue)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(path): tensor \(name) is stored as \(scalar.rawValue), expected float32 or float16")
    }

    /// A config attribute that disagrees with tensors which agree with each other is reported as a
    /// config mismatch naming the attribute and the tensor it was checked against.
    @Test func configDisagreeingWithTensors() throws {
        let path = try F.damagedModel { try $0.openGroup("/config").writeAttribute("vocab_size", .int(17)) }
        let error = F.loadError(path)
        guard case .configMismatch(_, "vocab_size", 17, 16, _)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(path): /config vocab_size = 17 disagrees with the tensors "
            + "(model.transformer.wte.weight has shape [16, 8], implying vocab_size = 16)")

        let layers = try F.damagedModel { try $0.openGroup("/config").writeAttribute("n_layers", .int(3)) }
        guard case .configMismatch(_, "n_layers", 3, 2, _)? = F.loadError(layers) else { Issue.record("n_layers"); return }
    }

    @Test func inconsistentOrBadConfig() throws {
        let heads = try F.damagedModel { try $0.openGroup("/config").writeAttribute("n_heads", .int(3)) }
        guard case .inconsistentConfig? = F.loadError(heads) else { Issue.record("n_heads"); return }

        let missing = try F.damagedModel { try $0.openGroup("/config").deleteAttribute("d_ff") }
        let error = F.loadError(missing)
        guard case .missingAttribute(_, "/config", "d_ff")? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(missing): /config attribute d_ff is missing")

        let wrongKind = try F.damagedModel { try $0.openGroup("/config").writeAttribute("d_model", .string("eight")) }
        guard case .badAttribute(_, "/config", "d_model", _)? = F.loadError(wrongKind) else { Issue.record("d_model"); return }

        // Floats may be stored as integers (h5py writes `10000` as int64).
        let intTheta = try F.damagedModel { try $0.openGroup("/config").writeAttribute("rope_theta", .int(500)) }
        defer { F.cleanUp(intTheta) }
        #expect(try Checkpoint.load(from: intTheta).config.ropeTheta == 500)
        let huge = try F.damagedModel { try $0.openGroup("/config").writeAttribute("n_layers", .int(1 << 40)) }
        guard case .badAttribute(_, "/config", "n_layers", _)? = F.loadError(huge) else { Issue.record("huge"); return }
    }

    @Test func nonFiniteWeight() throws {
        let name = "model.transformer.blocks.0.k_proj.weight"
        var values = [Double](repeating: 0.5, count: 32)
        values[2 * 8 + 3] = .nan
        values[30] = -.infinity
        let path = try F.damagedModel { try F.replaceDataset($0, Checkpoint.datasetPath(for: name), .float32, shape: [4, 8], values: values) }
        let error = F.loadError(path)
        guard case .nonFinite(_, name, 2, [2, 3], _)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(path): tensor \(name) has 2 non-finite values (first: nan at [2, 3])")
    }

    @Test func notHDF5MissingAndTruncatedFiles() throws {
        let directory = try F.scratchDirectory()
        defer { F.cleanUp(directory) }
        let text = directory + "/notes.h5"
        try "just some text\n".write(toFile: text, atomically: true, encoding: .utf8)
        guard case .notHDF5? = F.loadError(text) else { Issue.record("text file"); return }
        let absent = try F.scratchDirectory() + "/absent.h5"
        guard case .cannotOpen? = F.loadError(absent) else { Issue.record("absent"); return }
        let folder = try F.scratchDirectory()
        guard case .cannotOpen? = F.loadError(folder) else { Issue.record("directory"); return }

        let path = try F.savedModel()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        let error = F.loadError(path)
        guard case .truncated(_, bytes.count / 2, bytes.count)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(path): truncated HDF5 file: \(bytes.count / 2) bytes, its superblock records \(bytes.count)")
    }

    @Test func wrongFormatOrVersion() throws {
        let format = try F.damagedModel { try $0.writeAttribute("format", .string("safetensors")) }
        let error = F.loadError(format)
        guard case .wrongFormat(_, "safetensors")? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(format): not a pare-dlm model file (root attribute format is \"safetensors\")")
        let version = try F.damagedModel { try $0.writeAttribute("format_version", .int(2)) }
        guard case .wrongVersion(_, "2")? = F.loadError(version) else { Issue.record("version"); return }
        let none = try F.damagedModel { try $0.deleteAttribute("format") }
        guard case .wrongFormat(_, nil)? = F.loadError(none) else { Issue.record("no format"); return }
    }

    @Test func badTokenizer() throws {
        let kind = try F.damagedModel { try $0.openGroup("/tokenizer").writeAttribute("kind", .string("bpe")) }
        guard case .badTokenizer? = F.loadError(kind) else { Issue.record("kind"); return }
        let short = try F.damagedModel {
            try $0.deleteLink("/tokenizer/vocab")
            try $0.createStringDataset("/tokenizer/vocab", (0..<15).map { "\($0)" })
        }
        let error = F.loadError(short)
        guard case .badTokenizer? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(short): bad tokenizer: vocab has 15 entries but /config vocab_size is 16")
        let changed = try F.damagedModel {
            try $0.deleteLink("/tokenizer/vocab")
            try $0.createStringDataset("/tokenizer/vocab", (0..<16).map { "\($0)" })
        }
        guard case .badTokenizer? = F.loadError(changed) else { Issue.record("checksum"); return }
        let missing = try F.damagedModel { try $0.deleteLink("/tokenizer") }
        guard case .badTokenizer? = F.loadError(missing) else { Issue.record("missing"); return }
    }

    @Test func badProvenance() throws {
        for history in ["not json", "[1, 2]", #"{"op":"train"}"#] {
            let path = try F.damagedModel { try $0.openGroup("/provenance").writeAttribute("history", .string(history)) }
            guard case .badProvenance? = F.loadError(path) else { Issue.record("history \(history)"); return }
        }
        let none = try F.damagedModel { try $0.deleteLink("/provenance") }
        defer { F.cleanUp(none) }
        #expect(try Checkpoint.load(from: none).provenance == [])
    }

    @Test func unexpectedTensor() throws {
        let path = try F.damagedModel {
            try F.replaceDataset($0, "/model/transformer/blocks/0/extra/weight", .float32, shape: [2], values: [1, 2])
        }
        let error = F.loadError(path)
        guard case .unexpectedTensor(_, "model.transformer.blocks.0.extra")? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description == "\(path): unexpected tensor model.transformer.blocks.0.extra in /model (not part of this config)")
    }

    @Test func failedSaveLeavesNothingBehindAndKeepsTheOldFile() throws {
        let directory = try F.scratchDirectory()
        defer { F.cleanUp(directory) }
        let nowhere = directory + "/no/such/dir/model.h5"
        // Path problems are refused before anything is written, as for every file Pare writes.
        #expect(throws: OutputPathError(path: nowhere, reason: "folder \(directory)/no/such/dir: No such file or directory")) {
            try F.checkpoint().save(to: nowhere)
        }
        #expect(!FileManager.default.fileExists(atPath: nowhere))

        let path = directory + "/model.h5"
        try F.checkpoint(seed: 3).save(to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        var broken = F.checkpoint(seed: 4)
        broken.tensors["model.transformer.blocks.1.v_proj.weight"] = nil
        do {
            try broken.save(to: path)
            Issue.record("saving an incomplete checkpoint succeeded")
        } catch let error as CheckpointError {
            #expect(error.description == "\(path): cannot save: tensor model.transformer.blocks.1.v_proj.weight is missing")
        }
        var nan = F.checkpoint(seed: 5)
        nan.tensors["model.transformer.ln_f.weight"]?.data[3] = .nan
        #expect(throws: CheckpointError.self) { try nan.save(to: path) }
        var huge = F.checkpoint(seed: 6)
        huge.tensors["model.transformer.ln_f.weight"]?.data[0] = 1e6
        #expect(throws: CheckpointError.self) { try huge.save(to: path, dtype: .float16) }
        var badHistory = F.checkpoint(seed: 7)
        badHistory.provenance = ["not json"]
        #expect(throws: CheckpointError.self) { try badHistory.save(to: path) }
        var nul = F.checkpoint(seed: 8)
        nul.vocab[0] = "a\u{0}b"
        #expect(throws: CheckpointError.self) { try nul.save(to: path) }
        // A directory as destination is refused before a temporary is made.
        try FileManager.default.createDirectory(atPath: directory + "/taken.h5/sub", withIntermediateDirectories: true)
        #expect(throws: OutputPathError(path: directory + "/taken.h5", reason: "it is a directory")) {
            try F.checkpoint().save(to: directory + "/taken.h5")
        }

        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["model.h5", "taken.h5"])
    }
}
