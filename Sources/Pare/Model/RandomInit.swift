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
        var tensors: [String: Tensor] = [:]
        randomTensors(config: config, seed: seed, std: std, scheme: scheme) { tensors[$0] = $1 }
        // Every key was just generated, so the lookup cannot fail.
        return try! LLaDAModel(config: config) { tensors[$0]! }
    }

    /// The tensors of `random(...)`, one at a time, so a model larger than memory can be written
    /// as it is generated. Order (and so the random stream): block by block (norms, then the
    /// seven linears in table order), then the embedding, the final norm and the head.
    public static func randomTensors(config: ModelConfig, seed: UInt64, std: Float = 0.02, scheme: InitScheme = .normal,
                                     emit: (String, Tensor) throws -> Void) rethrows {
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
        let d = config.dModel
        let ones = Tensor(shape: [d], data: [Float](repeating: 1, count: d))
        let residualStd = std / Float(2 * max(1, config.nLayers)).squareRoot()
        /// A linear [out, in]; attn_out and ff_out project back into the residual stream.
        func linear(_ shape: [Int], residual: Bool) -> Tensor {
            switch scheme {
            case .normal: return normal(shape, residual ? residualStd : std)
            case .fanIn: return normal(shape, 1 / Float(3 * shape[1]).squareRoot())
            }
        }
        for i in 0..<config.nLayers {
            for norm in BlockNorm.allCases { try emit(norm.key(block: i), ones) }
            for l in BlockLinear.allCases {
                try emit(l.key(block: i), linear(l.shape(config), residual: l == .attnOut || l == .ffOut))
            }
            // Dream's q/k/v biases, after the block's linears (a LLaDA stream is unchanged).
            if config.hasQKVBias {
                for l in BlockLinear.biased { try emit(l.biasKey(block: i), normal([l.shape(config)[0]], std)) }
            }
        }
        try emit(GlobalTensor.wte.key, normal([config.vocabSize, d], scheme == .fanIn ? 1 : std))
        try emit(GlobalTensor.lnF.key, ones)
        try emit(GlobalTensor.head.key, linear([config.vocabSize, d], residual: false))
    }

    /// The model as a checkpoint with the given tokenizer and provenance.
    public func checkpoint(tokenizer: StoredTokenizer, provenance: [String]) -> Checkpoint {
        Checkpoint(config: config, tokenizer: tokenizer, tensors: namedTensors, provenance: provenance)
    }

    /// The model as a checkpoint with a character tokenizer.
    public func checkpoint(vocab: [String], provenance: [String]) -> Checkpoint {
        checkpoint(tokenizer: .char(vocab: vocab), provenance: provenance)
    }
}
