/// Names one parameter tensor of a LLaDA model, so optimizers can walk them all.
public enum ParameterKey: Hashable, Sendable, CustomStringConvertible {
    case wte, lnF, head
    case norm(Int, BlockNorm)
    case linear(Int, BlockLinear)

    /// The HF tensor name.
    public var description: String {
        switch self {
        case .wte: return GlobalTensor.wte.key
        case .lnF: return GlobalTensor.lnF.key
        case .head: return GlobalTensor.head.key
        case .norm(let i, let n): return n.key(block: i)
        case .linear(let i, let l): return l.key(block: i)
        }
    }

    /// True for the seven block linears (what pruning and SEFT touch).
    public var isBlockLinear: Bool {
        if case .linear = self { return true }
        return false
    }
}

extension LLaDAModel {
    /// Every parameter, in a fixed order: embedding, blocks (norms then linears), final norm, head.
    public var parameterKeys: [ParameterKey] {
        var keys: [ParameterKey] = [.wte]
        for i in blocks.indices {
            keys += BlockNorm.allCases.map { .norm(i, $0) } + BlockLinear.allCases.map { .linear(i, $0) }
        }
        return keys + [.lnF, .head]
    }

    public subscript(key: ParameterKey) -> Tensor {
        get {
            switch key {
            case .wte: return wte
            case .lnF: return lnF
            case .head: return head.weight
            case .norm(let i, let n): return blocks[i][n]
            case .linear(let i, let l): return blocks[i][l].weight
            }
        }
        set {
            switch key {
            case .wte: wte = newValue
            case .lnF: lnF = newValue
            case .head: head.weight = newValue
            case .norm(let i, let n): blocks[i][n] = newValue
            case .linear(let i, let l): blocks[i][l].weight = newValue
            }
        }
    }
}
