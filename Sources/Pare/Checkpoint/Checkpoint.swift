import Foundation

/// Storage precision of a tensor in a pare-dlm file.
public enum StorageDType: String, Codable, Sendable {
    case float32, float16
}

/// Everything a pare-dlm v1 file holds, in memory (DESIGN.md "The model file").
public struct Checkpoint: Sendable {
    public var config: ModelConfig
    /// Row i is the text of token id i.
    public var vocab: [String]
    /// Tensors by HF name (`model.transformer.blocks.0.q_proj.weight`), shapes as in HF ([out, in]).
    public var tensors: [String: Tensor]
    /// The `/provenance` history: one JSON object per operation applied, kept as JSON text.
    public var provenance: [String]
    /// Precision each tensor had in the file it was loaded from; `save(to:)` keeps it unless told
    /// otherwise. Tensors without an entry are stored as float32.
    public var storedDTypes: [String: StorageDType] = [:]

    public init(config: ModelConfig, vocab: [String], tensors: [String: Tensor], provenance: [String] = []) {
        self.config = config
        self.vocab = vocab
        self.tensors = tensors
        self.provenance = provenance
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
