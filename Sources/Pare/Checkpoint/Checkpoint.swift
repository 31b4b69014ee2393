import Foundation

/// Storage precision of a tensor in a pare-dlm file.
public enum StorageDType: String, Codable, CaseIterable, Sendable {
    case float32, float16, bfloat16

    /// Bytes per stored value.
    public var byteCount: Int { self == .float32 ? 4 : 2 }

    /// The short names the CLI takes: f32, f16, bf16.
    public init?(shortName: String) {
        switch shortName {
        case "f32", "float32": self = .float32
        case "f16", "float16": self = .float16
        case "bf16", "bfloat16": self = .bfloat16
        default: return nil
        }
    }

    /// How the values sit in HDF5: bfloat16 as raw uint16 words marked by an attribute.
    var scalar: H5Scalar {
        switch self {
        case .float32: return .float32
        case .float16: return .float16
        case .bfloat16: return .uint16
        }
    }

    /// The dataset attribute that marks uint16 words as bfloat16 (docs/format.md).
    static let bfloat16Attribute = (name: "dtype", value: "bfloat16")
}

/// Everything a pare-dlm v1 file holds, in memory (docs/format.md).
public struct Checkpoint: Sendable {
    public var config: ModelConfig
    public var tokenizer: StoredTokenizer
    /// Tensors by HF name (`model.transformer.blocks.0.q_proj.weight`), shapes as in HF ([out, in]).
    public var tensors: [String: Tensor]
    /// The `/provenance` history: one JSON object per operation applied, kept as JSON text.
    public var provenance: [String]
    /// Precision each tensor had in the file it was loaded from; `save(to:)` keeps it unless told
    /// otherwise. Tensors without an entry are stored as float32.
    public var storedDTypes: [String: StorageDType] = [:]

    public init(config: ModelConfig, tokenizer: StoredTokenizer, tensors: [String: Tensor], provenance: [String] = []) {
        self.config = config
        self.tokenizer = tokenizer
        self.tensors = tensors
        self.provenance = provenance
    }

    /// A checkpoint with a character tokenizer (the bundled model, `pare init`, tests).
    public init(config: ModelConfig, vocab: [String], tensors: [String: Tensor], provenance: [String] = []) {
        self.init(config: config, tokenizer: .char(vocab: vocab), tensors: tensors, provenance: provenance)
    }

    /// The character vocabulary (row i is the text of token id i); empty for a BPE tokenizer.
    /// Setting it makes the tokenizer a character one.
    public var vocab: [String] {
        get { tokenizer.charVocab ?? [] }
        set { tokenizer = .char(vocab: newValue) }
    }

    /// One `/provenance` history entry as compact JSON text with sorted keys.
    public static func provenanceEntry(_ entry: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// HDF5 dataset path of an HF tensor name: dots become slashes under the root.
    public static func datasetPath(for name: String) -> String {
        "/" + name.replacingOccurrences(of: ".", with: "/")
    }
}
