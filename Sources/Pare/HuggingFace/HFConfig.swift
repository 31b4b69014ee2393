import Foundation

/// A Hugging Face `config.json` (+ `generation_config.json`) read into a Pare `ModelConfig`, and
/// written back from one (docs/format.md, "Hugging Face folders").
///
/// Only the two architectures Pare runs are accepted, and every key that would change the
/// forward pass must hold the value Pare implements: anything else is an error naming the key,
/// never a silently different model.
public enum HFConfig {
    static let maxConfigBytes = 10_000_000

    /// Default special ids of the public checkpoints, used when neither config names them.
    static let defaultIDs: [String: (mask: Int, eos: Int)] = ["llada": (126336, 126081), "dream": (151666, 151643)]

    /// Keys of a LLaDA config.json that change the forward pass, with the only value Pare runs
    /// (a key that is absent takes LLaDA's default, which is this value).
    static let lladaRequired: [(key: String, value: Any)] = [
        ("activation_type", "silu"), ("block_type", "llama"), ("layer_norm_type", "rms"),
        ("include_bias", false), ("include_qkv_bias", false), ("weight_tying", false), ("rope", true),
        ("alibi", false), ("input_emb_norm", false), ("scale_logits", false), ("attention_layer_norm", false),
        ("layer_norm_with_affine", true), ("bias_for_layer_norm", false), ("clip_qkv", NSNull()),
    ]

    /// Keys of a Dream config.json that change the forward pass, with the value Pare runs.
    static let dreamRequired: [(key: String, value: Any)] = [
        ("hidden_act", "silu"), ("tie_word_embeddings", false), ("rope_scaling", NSNull()),
        ("use_sliding_window", false),
    ]

    /// Reads `directory`/config.json (and generation_config.json when present).
    public static func read(directory: String) throws -> (config: ModelConfig, raw: [String: Any]) {
        let path = directory + "/config.json"
        let raw = try readObject(path)
        var generation: [String: Any] = [:]
        let generationPath = directory + "/generation_config.json"
        if FileManager.default.fileExists(atPath: generationPath) { generation = try readObject(generationPath) }
        return (try modelConfig(raw, generation: generation, path: path), raw)
    }

    static func readObject(_ path: String) throws -> [String: Any] {
        let data = try readSmallFile(path, limit: maxConfigBytes)
        guard let object = try? JSONSerialization.jsonObject(with: data), let dict = object as? [String: Any] else {
            throw HFError(file: path, "is not a JSON object")
        }
        return dict
    }

    /// The architecture a config describes: "llada" or "dream", else an error naming what it is.
    static func architecture(_ raw: [String: Any], path: String) throws -> String {
        let modelType = (raw["model_type"] as? String)?.lowercased()
        let classes = (raw["architectures"] as? [Any])?.compactMap { $0 as? String } ?? []
        if modelType == "llada" || classes.contains("LLaDAModelLM") { return "llada" }
        if modelType == "dream" || classes.contains("DreamModel") { return "dream" }
        let what = modelType.map { "model_type \"\($0)\"" } ?? (classes.isEmpty ? "no model_type" : "architectures \(classes)")
        throw HFError(file: path, "\(what) is not supported (Pare converts LLaDA and Dream)")
    }

    static func modelConfig(_ raw: [String: Any], generation: [String: Any], path: String) throws -> ModelConfig {
        let arch = try architecture(raw, path: path)
        func int(_ key: String, default fallback: Int? = nil) throws -> Int {
            guard let value = raw[key], !(value is NSNull) else {
                if let fallback { return fallback }
                throw HFError(file: path, "\(key) is missing")
            }
            guard let n = value as? NSNumber, String(cString: n.objCType) != "c", let i = Int(exactly: n.doubleValue),
                  i >= 0, i <= Int(Int32.max) else {
                throw HFError(file: path, "\(key) = \(value) must be a non-negative integer")
            }
            return i
        }
        func double(_ key: String, default fallback: Double) throws -> Double {
            guard let value = raw[key], !(value is NSNull) else { return fallback }
            guard let n = value as? NSNumber, String(cString: n.objCType) != "c", n.doubleValue.isFinite, n.doubleValue > 0 else {
                throw HFError(file: path, "\(key) = \(value) must be a positive number")
            }
            return n.doubleValue
        }
        for (key, expected) in arch == "llada" ? lladaRequired : dreamRequired {
            guard let value = raw[key] else { continue }
            if !same(value, expected) {
                throw HFError(file: path, "\(key) = \(text(value)) is not supported (Pare runs \(key) = \(text(expected)))")
            }
        }
        /// A special id: config.json, else generation_config.json, else the public checkpoint's.
        func specialID(_ key: String, default fallback: Int) throws -> Int {
            for source in [raw, generation] {
                guard let value = source[key], !(value is NSNull) else { continue }
                // eos_token_id may be a list in generation_config.json: the first is the one that pads.
                let first = (value as? [Any])?.first ?? value
                guard let n = first as? NSNumber, let i = Int(exactly: n.doubleValue), i >= 0, i <= Int(Int32.max) else {
                    throw HFError(file: path, "\(key) = \(text(value)) must be a non-negative integer")
                }
                return i
            }
            return fallback
        }
        let ids = defaultIDs[arch]!
        var config: ModelConfig
        if arch == "llada" {
            let d = try int("d_model"), heads = try int("n_heads")
            let vocab = try int("vocab_size")
            let rows = try int("embedding_size", default: vocab)
            if rows < vocab { throw HFError(file: path, "embedding_size \(rows) is smaller than vocab_size \(vocab)") }
            let dFF = try int("mlp_hidden_size", default: try int("mlp_ratio", default: 4) * d)
            config = ModelConfig(architecture: arch, vocabSize: rows, dModel: d, nLayers: try int("n_layers"), nHeads: heads,
                                 nKVHeads: try int("n_kv_heads", default: heads), dFF: dFF,
                                 maxSeqLen: try int("max_sequence_length", default: 1024),
                                 maskTokenID: try specialID("mask_token_id", default: ids.mask),
                                 eosTokenID: try specialID("eos_token_id", default: ids.eos),
                                 ropeTheta: try double("rope_theta", default: 10_000), normEps: try double("rms_norm_eps", default: 1e-5))
        } else {
            let d = try int("hidden_size"), heads = try int("num_attention_heads")
            config = ModelConfig(architecture: arch, vocabSize: try int("vocab_size"), dModel: d,
                                 nLayers: try int("num_hidden_layers"), nHeads: heads,
                                 nKVHeads: try int("num_key_value_heads", default: heads), dFF: try int("intermediate_size"),
                                 maxSeqLen: try int("max_position_embeddings", default: 32768),
                                 maskTokenID: try specialID("mask_token_id", default: ids.mask),
                                 eosTokenID: try specialID("eos_token_id", default: ids.eos),
                                 ropeTheta: try double("rope_theta", default: 1_000_000), normEps: try double("rms_norm_eps", default: 1e-6))
            if let hd = raw["head_dim"] as? NSNumber, heads > 0, hd.intValue != d / heads {
                throw HFError(file: path, "head_dim = \(hd) is not supported (Pare uses hidden_size / num_attention_heads = \(d / heads))")
            }
        }
        if let problem = config.problem() { throw HFError(file: path, "inconsistent config: \(problem)") }
        return config
    }

    /// config.json for `config`: `like` (the original folder's config) with the keys Pare knows
    /// updated, or a fresh one naming the architecture.
    public static func json(for config: ModelConfig, like: [String: Any]?, dtype: SafetensorsDType) -> [String: Any] {
        var out = like ?? [:]
        let torchDType = ["F32": "float32", "F16": "float16", "BF16": "bfloat16"][dtype.rawValue]!
        out["torch_dtype"] = torchDType
        out["mask_token_id"] = config.maskTokenID
        out["eos_token_id"] = config.eosTokenID
        out["rope_theta"] = config.ropeTheta
        out["rms_norm_eps"] = config.normEps
        if config.architecture == "llada" {
            if like == nil {
                out["model_type"] = "llada"; out["architectures"] = ["LLaDAModelLM"]
                for (key, value) in lladaRequired { out[key] = value }
                out["vocab_size"] = config.vocabSize
            }
            // The tokenizer's vocab_size may be smaller than the embedding (LLaDA pads it); keep it.
            if (out["vocab_size"] as? Int).map({ $0 > config.vocabSize }) ?? true { out["vocab_size"] = config.vocabSize }
            out["embedding_size"] = config.vocabSize
            out["d_model"] = config.dModel; out["n_layers"] = config.nLayers; out["n_heads"] = config.nHeads
            out["n_kv_heads"] = config.nKVHeads; out["mlp_hidden_size"] = config.dFF
            out["max_sequence_length"] = config.maxSeqLen
        } else {
            if like == nil {
                out["model_type"] = "Dream"; out["architectures"] = ["DreamModel"]
                for (key, value) in dreamRequired { out[key] = value }
            }
            out["vocab_size"] = config.vocabSize
            out["hidden_size"] = config.dModel; out["num_hidden_layers"] = config.nLayers
            out["num_attention_heads"] = config.nHeads; out["num_key_value_heads"] = config.nKVHeads
            out["intermediate_size"] = config.dFF; out["max_position_embeddings"] = config.maxSeqLen
            if out["max_window_layers"] != nil { out["max_window_layers"] = config.nLayers }
        }
        return out
    }

    static func same(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case (is NSNull, is NSNull): return true
        case (let x as String, let y as String): return x == y
        case (let x as NSNumber, let y as Bool): return String(cString: x.objCType) == "c" && x.boolValue == y
        default: return false
        }
    }

    static func text(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case let s as String: return "\"\(s)\""
        case let n as NSNumber where String(cString: n.objCType) == "c": return n.boolValue ? "true" : "false"
        case let b as Bool: return b ? "true" : "false"
        default: return "\(value)"
        }
    }
}
