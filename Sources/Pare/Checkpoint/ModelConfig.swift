import Foundation

/// The `/config` attributes of a pare-dlm file (docs/format.md), i.e. the architecture hyper-parameters.
public struct ModelConfig: Codable, Equatable, Sendable {
    public var architecture: String = "llada"
    public var vocabSize: Int
    public var dModel: Int
    public var nLayers: Int
    public var nHeads: Int
    public var nKVHeads: Int
    public var dFF: Int
    public var maxSeqLen: Int
    public var maskTokenID: Int
    public var eosTokenID: Int
    public var ropeTheta: Double
    public var normEps: Double

    public init(architecture: String = "llada", vocabSize: Int, dModel: Int, nLayers: Int, nHeads: Int,
                nKVHeads: Int, dFF: Int, maxSeqLen: Int, maskTokenID: Int, eosTokenID: Int,
                ropeTheta: Double = 10_000, normEps: Double = 1e-5) {
        self.architecture = architecture
        self.vocabSize = vocabSize; self.dModel = dModel; self.nLayers = nLayers
        self.nHeads = nHeads; self.nKVHeads = nKVHeads; self.dFF = dFF; self.maxSeqLen = maxSeqLen
        self.maskTokenID = maskTokenID; self.eosTokenID = eosTokenID
        self.ropeTheta = ropeTheta; self.normEps = normEps
    }

    /// Attribute names exactly as stored in `/config`.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case architecture, vocabSize = "vocab_size", dModel = "d_model", nLayers = "n_layers",
             nHeads = "n_heads", nKVHeads = "n_kv_heads", dFF = "d_ff", maxSeqLen = "max_seq_len",
             maskTokenID = "mask_token_id", eosTokenID = "eos_token_id",
             ropeTheta = "rope_theta", normEps = "norm_eps"
    }

    public var headDim: Int { dModel / nHeads }

    /// The architectures Pare runs (docs/algorithms.md §1): LLaDA, and Dream (Qwen2 layout).
    public static let architectures = ["llada", "dream"]

    /// Dream's q_proj, k_proj and v_proj add a bias (tensors `...q_proj.bias` [out]).
    public var hasQKVBias: Bool { architecture == "dream" }

    /// Dream predicts position i from the hidden state at i - 1 (row 0 from itself): the
    /// forward pass shifts its logits by one position before any sampler sees them.
    public var shiftsLogits: Bool { architecture == "dream" }

    /// The `/config` attributes whose values differ from `other`'s, by stored name, in
    /// `CodingKeys` order (empty when the configs are equal).
    public func differences(from other: ModelConfig) -> [(name: String, mine: String, theirs: String)] {
        let (a, b) = (attributeTexts, other.attributeTexts)
        return CodingKeys.allCases.compactMap { key in
            let (x, y) = (a[key.rawValue] ?? "?", b[key.rawValue] ?? "?")
            return x == y ? nil : (key.rawValue, x, y)
        }
    }

    /// Each attribute's value as text, keyed by its stored name (through the Codable encoding,
    /// so the names are `CodingKeys`' and no field is listed twice).
    private var attributeTexts: [String: String] {
        guard let data = try? JSONEncoder().encode(self),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object.mapValues { "\($0)" }
    }

    /// The most blocks a model may have (9 tensors each).
    public static let maxLayers = 1 << 16
    /// The most parameters a model may declare (2^44, about 17.6 trillion; LLaDA-8B has 2^33):
    /// every byte and element count of a valid model then fits an `Int` with room to spare.
    public static let maxParameters = 1 << 44

    /// The parameters of all `expectedTensors`, computed from the dimensions (not by listing
    /// tensors) and saturating at `Int.max`: a hostile config may declare any 32-bit sizes.
    public var parameterCount: Int {
        let hd = nHeads > 0 ? headDim : 0  // callable on a config `problem` has not checked yet
        var block: [[Int]] = [[2, dModel], [nHeads * hd, dModel], [2, nKVHeads * hd, dModel],
                              [dModel, nHeads * hd], [3, dFF, dModel]]
        if hasQKVBias { block += [[nHeads * hd], [2, nKVHeads * hd]] }
        let perBlock = TensorInfo.saturatingSum(ofProducts: block)
        return TensorInfo.saturatingSum(ofProducts: [[2, vocabSize, dModel], [dModel], [max(0, nLayers), perBlock]])
    }

    /// Checks the config is internally consistent; returns a description of the first problem.
    public func problem() -> String? {
        if !Self.architectures.contains(architecture) {
            return "architecture \"\(architecture)\" is not supported (expected \(Self.architectures.map { "\"\($0)\"" }.joined(separator: " or ")))"
        }
        for (name, v) in [("vocab_size", vocabSize), ("d_model", dModel), ("n_layers", nLayers),
                          ("n_heads", nHeads), ("n_kv_heads", nKVHeads), ("d_ff", dFF), ("max_seq_len", maxSeqLen)]
            where v <= 0 && !(name == "n_layers" && v == 0) {
            return "\(name) = \(v) must be positive"
        }
        // The loader's limits, here so that every writer (init, train, convert) applies them too:
        // integers fit in 32 bits, so no shape arithmetic on them overflows, and the layer count
        // is bounded, so a hostile file cannot make the reader list billions of tensor names.
        for (name, v) in [("vocab_size", vocabSize), ("d_model", dModel), ("n_heads", nHeads), ("n_kv_heads", nKVHeads),
                          ("d_ff", dFF), ("max_seq_len", maxSeqLen), ("mask_token_id", maskTokenID), ("eos_token_id", eosTokenID)]
            where Int32(exactly: v) == nil {
            return "\(name) = \(v) is implausibly large (at most \(Int32.max))"
        }
        if nLayers > Self.maxLayers { return "n_layers = \(nLayers) is implausibly large (at most \(Self.maxLayers))" }
        if dModel % nHeads != 0 { return "d_model \(dModel) is not divisible by n_heads \(nHeads)" }
        if headDim % 2 != 0 { return "head_dim \(headDim) must be even for RoPE" }
        if nHeads % nKVHeads != 0 { return "n_heads \(nHeads) is not a multiple of n_kv_heads \(nKVHeads)" }
        if !(0..<vocabSize).contains(maskTokenID) { return "mask_token_id \(maskTokenID) is outside the vocabulary (size \(vocabSize))" }
        if !(0..<vocabSize).contains(eosTokenID) { return "eos_token_id \(eosTokenID) is outside the vocabulary (size \(vocabSize))" }
        if maskTokenID == eosTokenID { return "mask_token_id and eos_token_id are both \(eosTokenID)" }
        if parameterCount > Self.maxParameters {
            return "the config declares \(parameterCount == .max ? "more than \(Int.max)" : "\(parameterCount)") parameters, implausibly many (at most 2^44)"
        }
        if !(ropeTheta.isFinite && ropeTheta > 0) { return "rope_theta \(ropeTheta) must be a positive number" }
        if !(normEps.isFinite && normEps > 0) { return "norm_eps \(normEps) must be a positive number" }
        return nil
    }

    /// Every tensor a model of this config holds, with its HF name and shape ([out, in] for linears).
    public var expectedTensors: [(name: String, shape: [Int])] {
        let hd = headDim
        var list: [(String, [Int])] = [("model.transformer.wte.weight", [vocabSize, dModel])]
        for i in 0..<nLayers {
            let p = "model.transformer.blocks.\(i)."
            list += [
                (p + "attn_norm.weight", [dModel]),
                (p + "q_proj.weight", [nHeads * hd, dModel]),
                (p + "k_proj.weight", [nKVHeads * hd, dModel]),
                (p + "v_proj.weight", [nKVHeads * hd, dModel]),
            ]
            if hasQKVBias {
                list += [(p + "q_proj.bias", [nHeads * hd]), (p + "k_proj.bias", [nKVHeads * hd]), (p + "v_proj.bias", [nKVHeads * hd])]
            }
            list += [
                (p + "attn_out.weight", [dModel, nHeads * hd]),
                (p + "ff_norm.weight", [dModel]),
                (p + "ff_proj.weight", [dFF, dModel]),
                (p + "up_proj.weight", [dFF, dModel]),
                (p + "ff_out.weight", [dModel, dFF]),
            ]
        }
        list += [("model.transformer.ln_f.weight", [dModel]), ("model.transformer.ff_out.weight", [vocabSize, dModel])]
        return list
    }
}
