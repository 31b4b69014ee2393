/// Names one parameter tensor of a LLaDA model, so optimizers and pruners can walk them all.
public enum ParameterKey: Hashable, Sendable, CustomStringConvertible {
    case wte, lnF, head
    /// A block tensor: `name` is one of the seven linears or the two norms.
    case block(Int, String)

    /// The HF tensor name.
    public var description: String {
        switch self {
        case .wte: return "model.transformer.wte.weight"
        case .lnF: return "model.transformer.ln_f.weight"
        case .head: return "model.transformer.ff_out.weight"
        case .block(let i, let n): return "model.transformer.blocks.\(i).\(n).weight"
        }
    }

    /// True for the seven block linears (what pruning and SEFT touch).
    public var isBlockLinear: Bool {
        if case .block(_, let n) = self { return LLaDABlock.linearNames.contains(n) }
        return false
    }
}

extension LLaDAModel {
    /// Every parameter, in a fixed order: embedding, blocks (norms then linears), final norm, head.
    public var parameterKeys: [ParameterKey] {
        var keys: [ParameterKey] = [.wte]
        for i in blocks.indices {
            keys += (LLaDABlock.normNames + LLaDABlock.linearNames).map { .block(i, $0) }
        }
        return keys + [.lnF, .head]
    }

    public subscript(key: ParameterKey) -> Tensor {
        get {
            switch key {
            case .wte: return wte
            case .lnF: return lnF
            case .head: return head
            case .block(let i, "attn_norm"): return blocks[i].attnNorm
            case .block(let i, "ff_norm"): return blocks[i].ffNorm
            case .block(let i, let n): return blocks[i][linear: n]
            }
        }
        set {
            switch key {
            case .wte: wte = newValue
            case .lnF: lnF = newValue
            case .head: head = newValue
            case .block(let i, "attn_norm"): blocks[i].attnNorm = newValue
            case .block(let i, "ff_norm"): blocks[i].ffNorm = newValue
            case .block(let i, let n): blocks[i][linear: n] = newValue
            }
        }
    }
}
