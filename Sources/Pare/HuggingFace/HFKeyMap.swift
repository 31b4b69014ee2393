/// Tensor names in a Hugging Face checkpoint <-> names in a pare-dlm file, for each
/// architecture: the one table (docs/format.md, "Hugging Face folders").
///
/// Pare names every tensor the LLaDA way (`model.transformer.blocks.N.q_proj.weight`), so a
/// LLaDA checkpoint maps to itself and a Dream (Qwen2-layout) checkpoint is renamed.
public enum HFKeyMap {
    /// (Pare name, LLaDA name, Dream name) of the tensors outside the blocks.
    static let globals: [(pare: String, llada: String, dream: String)] = [
        ("model.transformer.wte.weight", "model.transformer.wte.weight", "model.embed_tokens.weight"),
        ("model.transformer.ln_f.weight", "model.transformer.ln_f.weight", "model.norm.weight"),
        ("model.transformer.ff_out.weight", "model.transformer.ff_out.weight", "lm_head.weight"),
    ]

    /// (Pare, LLaDA, Dream) name of each tensor inside block N, after the block prefix.
    /// Dream's q/k/v biases have no LLaDA counterpart (nil).
    static let blockParts: [(pare: String, llada: String?, dream: String)] = [
        ("attn_norm.weight", "attn_norm.weight", "input_layernorm.weight"),
        ("q_proj.weight", "q_proj.weight", "self_attn.q_proj.weight"),
        ("k_proj.weight", "k_proj.weight", "self_attn.k_proj.weight"),
        ("v_proj.weight", "v_proj.weight", "self_attn.v_proj.weight"),
        ("q_proj.bias", nil, "self_attn.q_proj.bias"),
        ("k_proj.bias", nil, "self_attn.k_proj.bias"),
        ("v_proj.bias", nil, "self_attn.v_proj.bias"),
        ("attn_out.weight", "attn_out.weight", "self_attn.o_proj.weight"),
        ("ff_norm.weight", "ff_norm.weight", "post_attention_layernorm.weight"),
        ("ff_proj.weight", "ff_proj.weight", "mlp.gate_proj.weight"),
        ("up_proj.weight", "up_proj.weight", "mlp.up_proj.weight"),
        ("ff_out.weight", "ff_out.weight", "mlp.down_proj.weight"),
    ]

    static let pareBlockPrefix = "model.transformer.blocks."

    static func blockPrefix(_ architecture: String) -> String {
        architecture == "dream" ? "model.layers." : pareBlockPrefix
    }

    /// The Hugging Face name of Pare tensor `name` under `architecture`, or nil when it has none.
    public static func hfName(ofPare name: String, architecture: String) -> String? {
        let dream = architecture == "dream"
        if let g = globals.first(where: { $0.pare == name }) { return dream ? g.dream : g.llada }
        guard let (index, part) = split(name, prefix: pareBlockPrefix),
              let row = blockParts.first(where: { $0.pare == part }) else { return nil }
        guard let hf = dream ? row.dream : row.llada else { return nil }
        return blockPrefix(architecture) + "\(index)." + hf
    }

    /// The Pare name of Hugging Face tensor `name` under `architecture`, or nil when Pare has none.
    public static func pareName(ofHF name: String, architecture: String) -> String? {
        let dream = architecture == "dream"
        if let g = globals.first(where: { (dream ? $0.dream : $0.llada) == name }) { return g.pare }
        guard let (index, part) = split(name, prefix: blockPrefix(architecture)),
              let row = blockParts.first(where: { (dream ? $0.dream : $0.llada) == part }) else { return nil }
        return pareBlockPrefix + "\(index)." + row.pare
    }

    /// "prefix<N>.<rest>" -> (N, rest), N a canonical non-negative decimal.
    static func split(_ name: String, prefix: String) -> (Int, String)? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]), index >= 0,
              String(index) == rest[..<dot] else { return nil }
        return (index, String(rest[rest.index(after: dot)...]))
    }
}
