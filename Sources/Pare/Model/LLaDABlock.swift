/// One LLaDA transformer block: pre-norm attention and a SwiGLU MLP (ALGORITHMS.md §1).
///
///   h = x + attn_out(Attn(attn_norm(x)))
///   y = h + ff_out(silu(ff_proj(ff_norm(h))) * up_proj(ff_norm(h)))
public struct LLaDABlock: Sendable {
    public var attnNorm: Tensor   // [d]
    public var qProj: Tensor      // [nHeads * hd, d]
    public var kProj: Tensor      // [nKVHeads * hd, d]
    public var vProj: Tensor      // [nKVHeads * hd, d]
    public var attnOut: Tensor    // [d, nHeads * hd]
    public var ffNorm: Tensor     // [d]
    public var ffProj: Tensor     // [dFF, d]  (gate, SiLU applied)
    public var upProj: Tensor     // [dFF, d]
    public var ffOut: Tensor      // [d, dFF]  (down projection)

    /// The seven linears that pruning touches, in the order the HF names list them.
    public static let linearNames = ["q_proj", "k_proj", "v_proj", "attn_out", "ff_proj", "up_proj", "ff_out"]
    public static let normNames = ["attn_norm", "ff_norm"]

    public subscript(linear name: String) -> Tensor {
        get {
            switch name {
            case "q_proj": return qProj
            case "k_proj": return kProj
            case "v_proj": return vProj
            case "attn_out": return attnOut
            case "ff_proj": return ffProj
            case "up_proj": return upProj
            case "ff_out": return ffOut
            default: preconditionFailure("not a block linear: \(name)")
            }
        }
        set {
            switch name {
            case "q_proj": qProj = newValue
            case "k_proj": kProj = newValue
            case "v_proj": vProj = newValue
            case "attn_out": attnOut = newValue
            case "ff_proj": ffProj = newValue
            case "up_proj": upProj = newValue
            case "ff_out": ffOut = newValue
            default: preconditionFailure("not a block linear: \(name)")
            }
        }
    }

    public init(attnNorm: Tensor, qProj: Tensor, kProj: Tensor, vProj: Tensor, attnOut: Tensor,
                ffNorm: Tensor, ffProj: Tensor, upProj: Tensor, ffOut: Tensor) {
        self.attnNorm = attnNorm; self.qProj = qProj; self.kProj = kProj; self.vProj = vProj
        self.attnOut = attnOut; self.ffNorm = ffNorm; self.ffProj = ffProj; self.upProj = upProj
        self.ffOut = ffOut
    }

    /// Builds block `index` from checkpoint tensors (already validated by the loader).
    public init(index: Int, tensors: [String: Tensor]) throws {
        func t(_ name: String) throws -> Tensor {
            let key = "model.transformer.blocks.\(index).\(name).weight"
            guard let v = tensors[key] else { throw ModelError.missingTensor(key) }
            return v
        }
        attnNorm = try t("attn_norm"); ffNorm = try t("ff_norm")
        qProj = try t("q_proj"); kProj = try t("k_proj"); vProj = try t("v_proj"); attnOut = try t("attn_out")
        ffProj = try t("ff_proj"); upProj = try t("up_proj"); ffOut = try t("ff_out")
    }

    /// The block's tensors under their HF names, for writing a checkpoint.
    public func namedTensors(index: Int) -> [String: Tensor] {
        let p = "model.transformer.blocks.\(index)."
        var out = [p + "attn_norm.weight": attnNorm, p + "ff_norm.weight": ffNorm]
        for name in Self.linearNames { out[p + name + ".weight"] = self[linear: name] }
        return out
    }
}

public enum ModelError: Error, CustomStringConvertible {
    case missingTensor(String)
    case tokenOutOfRange(Int, vocabSize: Int)
    case sequenceTooLong(Int, max: Int)

    public var description: String {
        switch self {
        case .missingTensor(let n): return "model tensor \(n) is missing"
        case .tokenOutOfRange(let t, let v): return "token id \(t) is outside the vocabulary (size \(v))"
        case .sequenceTooLong(let n, let m): return "sequence of \(n) tokens exceeds the model's max_seq_len \(m)"
        }
    }
}
