import Foundation
import Testing
@testable import Pare

/// The safetensors reader's hardening, the writer's shards, and config.json checks: every bad
/// input is one HFError naming the file, never a crash.
@Suite struct SafetensorsTests {
    /// A safetensors file from a header object and a data section, written byte for byte.
    static func file(header: Any, data: [UInt8], headerLength: UInt64? = nil) -> [UInt8] {
        let json = [UInt8](try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        var bytes = withUnsafeBytes(of: (headerLength ?? UInt64(json.count)).littleEndian) { [UInt8]($0) }
        bytes += json + data
        return bytes
    }

    /// Two F32 tensors: a [2, 3] and b [2], data 0..7 as floats.
    static let goodHeader: [String: Any] = [
        "__metadata__": ["format": "pt"],
        "a": ["dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]],
        "b": ["dtype": "F32", "shape": [2], "data_offsets": [24, 32]],
    ]
    static let goodData: [UInt8] = (0..<8).flatMap { i in withUnsafeBytes(of: Float(i).bitPattern.littleEndian) { [UInt8]($0) } }

    static func write(_ bytes: [UInt8], in dir: URL, name: String = "m.safetensors") -> String {
        let path = dir.appendingPathComponent(name).path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)), "cannot write \(path)")
        return path
    }

    @Test func readsAValidFileRowByRow() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try SafetensorsFile(path: Self.write(Self.file(header: Self.goodHeader, data: Self.goodData), in: dir))
        #expect(f.metadata == ["format": "pt"])
        #expect(try f.tensor("a") == Tensor(shape: [2, 3], data: [0, 1, 2, 3, 4, 5]))
        #expect(try f.rows(of: "a", in: 1..<2) == [3, 4, 5])
        #expect(try f.tensor("b").data == [6, 7])
        #expect(throws: HFError.self) { try f.rows(of: "a", in: 1..<3) }
        #expect(throws: HFError.self) { try f.tensor("c") }
    }

    /// Each damaged copy and the words its error must contain.
    static func damaged() -> [(what: String, bytes: [UInt8], expect: String)] {
        let good = file(header: goodHeader, data: goodData)
        func with(_ name: String, _ entry: Any) -> [UInt8] {
            var h = goodHeader
            h[name] = entry
            return file(header: h, data: goodData)
        }
        var cases: [(String, [UInt8], String)] = []
        for cut in [0, 3, 7, 8, 20, good.count - 33, good.count - 1] {
            cases.append(("truncated to \(cut) bytes", Array(good.prefix(cut)), cut < 8 ? "too short" : ""))
        }
        cases += [
            ("header length 2^64 - 1", file(header: goodHeader, data: goodData, headerLength: .max), "exceeds"),
            ("header length 100 MB + 1", file(header: goodHeader, data: goodData, headerLength: 100_000_001), "exceeds"),
            ("header length past the end", file(header: goodHeader, data: goodData, headerLength: UInt64(good.count)), "does not fit"),
            ("header length 0", file(header: goodHeader, data: goodData, headerLength: 0), "does not fit"),
            ("header not JSON", Array(good.prefix(8)) + Array("{not json".utf8) + Array(good.dropFirst(17)), "not valid JSON"),
            ("header a JSON array", file(header: [1, 2], data: []), "does not start"),
            ("end outside the data", with("b", ["dtype": "F32", "shape": [4], "data_offsets": [24, 40]]), "outside"),
            ("overlapping tensors", with("b", ["dtype": "F32", "shape": [6], "data_offsets": [8, 32]]), "overlap"),
            ("a gap in the data", with("b", ["dtype": "F32", "shape": [1], "data_offsets": [28, 32]]), "unused bytes"),
            ("trailing bytes", with("b", ["dtype": "F32", "shape": [1], "data_offsets": [24, 28]]), "end at 28"),
            ("shape and offsets disagree", with("b", ["dtype": "F32", "shape": [3], "data_offsets": [24, 32]]), "needs 12 bytes"),
            ("unsupported dtype", with("b", ["dtype": "I64", "shape": [1], "data_offsets": [24, 32]]), "unsupported dtype I64"),
            ("unknown dtype", with("b", ["dtype": "Q4", "shape": [2], "data_offsets": [24, 32]]), "unknown dtype Q4"),
            ("negative offset", with("b", ["dtype": "F32", "shape": [2], "data_offsets": [-8, 0]]), "data_offsets"),
            ("begin after end", with("b", ["dtype": "F32", "shape": [0], "data_offsets": [32, 24]]), "data_offsets"),
            ("fractional shape", with("b", ["dtype": "F32", "shape": [1.5], "data_offsets": [24, 32]]), "shape"),
            ("boolean shape", with("b", ["dtype": "F32", "shape": [true, true], "data_offsets": [24, 32]]), "shape"),
            ("shape overflow", with("b", ["dtype": "F32", "shape": [1 << 40, 1 << 40], "data_offsets": [24, 32]]), "too large"),
            ("entry not an object", with("b", 7), "not an object"),
            ("unknown key", with("b", ["dtype": "F32", "shape": [2], "data_offsets": [24, 32], "x": 1]), "unknown key"),
            ("metadata value not a string", with("__metadata__", ["format": 1]), "not a string"),
        ]
        return cases
    }

    @Test func everyDamagedFileIsOneClearError() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (i, c) in Self.damaged().enumerated() {
            let path = Self.write(c.bytes, in: dir, name: "bad\(i).safetensors")
            do {
                _ = try SafetensorsFile(path: path)
                Issue.record("\(c.what): opened without error")
            } catch let error as HFError {
                #expect(error.file == path, "\(c.what)")
                #expect(!error.description.contains("\n"), "\(c.what)")
                #expect(c.expect.isEmpty || error.reason.contains(c.expect), "\(c.what): \(error.reason)")
            }
        }
    }

    @Test func writerShardsAndTheFolderReaderReadsThemBack() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tensors: [String: Tensor] = [
            "x": Tensor(shape: [3, 4], data: (0..<12).map { Float($0) / 3 }),
            "y": Tensor(shape: [5], data: (0..<5).map { Float($0) - 2 }),
            "z": Tensor(shape: [2, 2], data: [1, -1, 0.5, 1e30]),
        ]
        let items = ["x", "y", "z"].map { SafetensorsWriter.Item(name: $0, shape: tensors[$0]!.shape, dtype: .f32) }
        let names = try SafetensorsWriter(maxShardBytes: 40, slabBytes: 8).write(items, into: dir.path) { name, range in
            let t = tensors[name]!
            let cols = t.shape.dropFirst().reduce(1, *)
            return Array(t.data[(range.lowerBound * cols)..<(range.upperBound * cols)])
        }
        // x (48 bytes) is over the 40-byte limit alone; y (20) and z (16) share the second shard.
        #expect(names == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", SafetensorsFolder.indexName])
        let folder = try SafetensorsFolder(directory: dir.path)
        for (name, t) in tensors { #expect(try folder.tensor(name) == t) }
        // A value that is not finite is refused rather than written.
        let bad = dir.appendingPathComponent("bad")
        try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
        #expect(throws: HFError.self) {
            try SafetensorsWriter().write([.init(name: "w", shape: [1], dtype: .bf16)], into: bad.path) { _, _ in [Float.infinity] }
        }
    }

    @Test func aBadIndexIsAnError() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = Self.write(Self.file(header: Self.goodHeader, data: Self.goodData), in: dir, name: "s1.safetensors")
        func index(_ map: [String: Any]) throws {
            try JSONSerialization.data(withJSONObject: ["weight_map": map]).write(to: dir.appendingPathComponent(SafetensorsFolder.indexName))
        }
        let cases: [([String: Any], String)] = [
            (["a": "../s1.safetensors", "b": "s1.safetensors"], "not a file name"),
            (["a": "s1.safetensors", "b": "s1.safetensors", "c": "s1.safetensors"], "does not hold it"),
            (["a": "s1.safetensors"], "does not list"),
            (["a": "missing.safetensors", "b": "s1.safetensors"], "cannot open"),
            (["a": 3, "b": "s1.safetensors"], "not a string"),
            ([:], "weight_map"),
        ]
        for (map, words) in cases {
            try index(map)
            do {
                _ = try SafetensorsFolder(directory: dir.path)
                Issue.record("\(map): no error")
            } catch let error as HFError {
                #expect(error.description.contains(words), "\(error)")
            }
        }
        try FileManager.default.removeItem(at: dir.appendingPathComponent(SafetensorsFolder.indexName))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("s1.safetensors"))
        #expect(throws: HFError.self) { try SafetensorsFolder(directory: dir.path) }
    }

    /// config.json values Pare cannot run are errors naming the key.
    @Test func badConfigsAreErrorsNamingTheKey() throws {
        let base = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("hf/dream-f32/config.json")))) as! [String: Any]
        let llada = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("hf/llada-mha-f32/config.json")))) as! [String: Any]
        let cases: [([String: Any], [String: Any?], String)] = [
            (base, ["model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]], "model_type \"gpt2\" is not supported"),
            (base, ["hidden_act": "gelu"], "hidden_act = \"gelu\" is not supported"),
            (base, ["tie_word_embeddings": true], "tie_word_embeddings = true"),
            (base, ["rope_scaling": ["type": "yarn"]], "rope_scaling"),
            (base, ["num_attention_heads": 5], "not divisible"),
            (base, ["num_key_value_heads": 3], "multiple of n_kv_heads"),
            (base, ["hidden_size": "32"], "hidden_size"),
            (base, ["hidden_size": -32], "hidden_size"),
            (base, ["num_hidden_layers": nil], "num_hidden_layers is missing"),
            (base, ["rms_norm_eps": 0], "rms_norm_eps"),
            (base, ["mask_token_id": 100000], "mask_token_id"),
            (base, ["head_dim": 16], "head_dim"),
            (llada, ["activation_type": "gelu"], "activation_type"),
            (llada, ["weight_tying": true], "weight_tying"),
            (llada, ["include_qkv_bias": true], "include_qkv_bias"),
            (llada, ["embedding_size": 10], "embedding_size"),
            (llada, ["block_type": "sequential"], "block_type"),
        ]
        for (start, changes, words) in cases {
            var raw = start
            for (k, v) in changes { raw[k] = v ?? nil }
            if changes.contains(where: { $0.value == nil }) { for (k, v) in changes where v == nil { raw.removeValue(forKey: k) } }
            do {
                let c = try HFConfig.modelConfig(raw, generation: [:], path: "config.json")
                Issue.record("\(changes): accepted as \(c)")
            } catch let error as HFError {
                #expect(error.description.contains(words), "\(error)")
            }
        }
    }
}
