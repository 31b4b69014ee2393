import Foundation

/// How random weights are scaled.
public enum InitScheme: String, Codable, Sendable {
    /// GPT-style: every matrix N(0, std^2), residual outputs (attn_out, ff_out) scaled by 1/sqrt(2 n_layers).
    case normal
    /// PyTorch's defaults: linears with std 1/sqrt(3 fan_in) (the std of its Kaiming-uniform
    /// init), the embedding N(0, 1).
    case fanIn = "fan_in"
}

/// Random initialisation of a LLaDA model (for training from scratch, benchmarks and tests).
extension LLaDAModel {
    /// Deterministic in `seed`; norms start at 1.
    public static func random(config: ModelConfig, seed: UInt64, std: Float = 0.02, scheme: InitScheme = .normal) -> LLaDAModel {
        var rng = SplitMix64(seed: seed)
        func normal(_ shape: [Int], _ s: Float) -> Tensor {
            var t = Tensor(zeros: shape)
            t.data.withUnsafeMutableBufferPointer { p in
                var i = 0
                while i < p.count {
                    // Box-Muller: two normals per pair of uniforms.
                    let u1 = rng.uniform(), u2 = rng.uniform()
                    let r = (-2 * Foundation.log(u1)).squareRoot()
                    p[i] = Float(r * Foundation.cos(2 * .pi * u2)) * s
                    if i + 1 < p.count { p[i + 1] = Float(r * Foundation.sin(2 * .pi * u2)) * s }
                    i += 2
                }
            }
            return t
        }
        let d = config.dModel, hd = config.headDim
        let ones = Tensor(shape: [d], data: [Float](repeating: 1, count: d))
        let residualStd = std / Float(2 * max(1, config.nLayers)).squareRoot()
        /// A linear [out, in]; `residual` marks the projections back into the residual stream.
        func linear(_ out: Int, _ inF: Int, residual: Bool = false) -> Tensor {
            switch scheme {
            case .normal: return normal([out, inF], residual ? residualStd : std)
            case .fanIn: return normal([out, inF], 1 / Float(3 * inF).squareRoot())
            }
        }
        let blocks = (0..<config.nLayers).map { _ in
            LLaDABlock(attnNorm: ones,
                       qProj: linear(config.nHeads * hd, d),
                       kProj: linear(config.nKVHeads * hd, d),
                       vProj: linear(config.nKVHeads * hd, d),
                       attnOut: linear(d, config.nHeads * hd, residual: true),
                       ffNorm: ones,
                       ffProj: linear(config.dFF, d),
                       upProj: linear(config.dFF, d),
                       ffOut: linear(d, config.dFF, residual: true))
        }
        let wte = normal([config.vocabSize, d], scheme == .fanIn ? 1 : std)
        return LLaDAModel(config: config, wte: wte, blocks: blocks, lnF: ones, head: linear(config.vocabSize, d))
    }

    /// The model as a checkpoint with the given tokenizer vocabulary and provenance.
    public func checkpoint(vocab: [String], provenance: [String]) -> Checkpoint {
        Checkpoint(config: config, vocab: vocab, tensors: namedTensors, provenance: provenance)
    }
}
