/// The seven linears of a transformer block: one table, each case carrying its checkpoint key.
///
/// Everything that walks a block's linears (pruning, training, the file writer, reports) walks
/// `BlockLinear.allCases`; a misspelt name cannot compile, so no `default:` can swallow one.
public enum BlockLinear: String, CaseIterable, Codable, Sendable {
    case qProj = "q_proj"
    case kProj = "k_proj"
    case vProj = "v_proj"
    case attnOut = "attn_out"
    case ffProj = "ff_proj"
    case upProj = "up_proj"
    case ffOut = "ff_out"

    /// The name inside a block, as in `model.transformer.blocks.N.<name>.weight`.
    public var name: String { rawValue }

    /// The HF checkpoint key of this linear's weight in block `index`.
    public func key(block index: Int) -> String { "model.transformer.blocks.\(index).\(rawValue).weight" }

    /// The linears that carry a bias in Dream (Qwen2's attention projections); no LLaDA linear does.
    public static let biased: [BlockLinear] = [.qProj, .kProj, .vProj]

    /// The HF checkpoint key of this linear's bias in block `index` (Dream only).
    public func biasKey(block index: Int) -> String { "model.transformer.blocks.\(index).\(rawValue).bias" }

    /// Weight shape [out, in] under a config.
    public func shape(_ c: ModelConfig) -> [Int] {
        let q = c.nHeads * c.headDim, kv = c.nKVHeads * c.headDim
        switch self {
        case .qProj: return [q, c.dModel]
        case .kProj, .vProj: return [kv, c.dModel]
        case .attnOut: return [c.dModel, q]
        case .ffProj, .upProj: return [c.dFF, c.dModel]
        case .ffOut: return [c.dModel, c.dFF]
        }
    }

    /// Which activation feeds this linear (q/k/v share one input, ff_proj/up_proj another).
    public var site: LinearSite {
        switch self {
        case .qProj, .kProj, .vProj: return .attention
        case .attnOut: return .attentionHeads
        case .ffProj, .upProj: return .mlp
        case .ffOut: return .mlpHidden
        }
    }

    /// Parses a name such as `q_proj`.
    public init?(name: String) { self.init(rawValue: name) }

    /// The block index and linear of a weight key such as
    /// `model.transformer.blocks.3.q_proj.weight`; nil for any other key.
    public static func parse(key: String) -> (block: Int, linear: BlockLinear)? {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "model", parts[1] == "transformer", parts[2] == "blocks",
              parts[5] == "weight", let index = Int(parts[3]), index >= 0, String(index) == parts[3],
              let linear = BlockLinear(name: String(parts[4])) else { return nil }
        return (index, linear)
    }
}

/// The two RMSNorm weights of a block.
public enum BlockNorm: String, CaseIterable, Codable, Sendable {
    case attnNorm = "attn_norm"
    case ffNorm = "ff_norm"

    public func key(block index: Int) -> String { "model.transformer.blocks.\(index).\(rawValue).weight" }
}

/// The four distinct inputs of a block's linears.
public enum LinearSite: String, CaseIterable, Codable, Sendable {
    /// attn_norm(x) [T, d], into q_proj, k_proj, v_proj
    case attention
    /// concatenated head outputs [T, nHeads * hd], into attn_out
    case attentionHeads
    /// ff_norm(h) [T, d], into ff_proj, up_proj
    case mlp
    /// silu(gate) * up [T, dFF], into ff_out
    case mlpHidden

    /// The linears that read this input.
    public var linears: [BlockLinear] { BlockLinear.allCases.filter { $0.site == self } }
}

/// The model's tensors outside the blocks.
public enum GlobalTensor: String, CaseIterable, Sendable {
    case wte, lnF, head

    public var key: String {
        switch self {
        case .wte: return "model.transformer.wte.weight"
        case .lnF: return "model.transformer.ln_f.weight"
        case .head: return "model.transformer.ff_out.weight"
        }
    }

    public func shape(_ c: ModelConfig) -> [Int] {
        self == .lnF ? [c.dModel] : [c.vocabSize, c.dModel]
    }
}
