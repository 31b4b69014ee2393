/// Random initialisation of a LLaDA model (for training from scratch, benchmarks and tests).
extension LLaDAModel {
    /// Weights ~ N(0, std^2) (std = 0.02 by default, GPT-style), residual outputs
    /// (attn_out, ff_out) scaled by 1/sqrt(2 * n_layers), norms at 1. Deterministic in `seed`.
    public static func random(config: ModelConfig, seed: UInt64, std: Float = 0.02) -> LLaDAModel {
        var rng = SplitMix64(seed: seed)
        func normal(_ shape: [Int], _ s: Float) -> Tensor {
            var t = Tensor(zeros: shape)
            t.data.withUnsafeMutableBufferPointer { p in
                var i = 0
                while i < p.count {
                    // Box-Muller: two normals per pair of uniforms.
                    let u1 = rng.uniform(), u2 = rng.uniform()
                    let r = (-2 * _log(u1)).squareRoot()
                    p[i] = Float(r * _cos(2 * .pi * u2)) * s
                    if i + 1 < p.count { p[i + 1] = Float(r * _sin(2 * .pi * u2)) * s }
                    i += 2
                }
            }
            return t
        }
        let d = config.dModel, hd = config.headDim
        let ones = Tensor(shape: [d], data: [Float](repeating: 1, count: d))
        let residualStd = std / Float(2 * max(1, config.nLayers)).squareRoot()
        let blocks = (0..<config.nLayers).map { _ in
            LLaDABlock(attnNorm: ones,
                       qProj: normal([config.nHeads * hd, d], std),
                       kProj: normal([config.nKVHeads * hd, d], std),
                       vProj: normal([config.nKVHeads * hd, d], std),
                       attnOut: normal([d, config.nHeads * hd], residualStd),
                       ffNorm: ones,
                       ffProj: normal([config.dFF, d], std),
                       upProj: normal([config.dFF, d], std),
                       ffOut: normal([d, config.dFF], residualStd))
        }
        return LLaDAModel(config: config, wte: normal([config.vocabSize, d], std), blocks: blocks,
                          lnF: ones, head: normal([config.vocabSize, d], std))
    }

    /// The model as a checkpoint with the given tokenizer vocabulary and provenance.
    public func checkpoint(vocab: [String], provenance: [String]) -> Checkpoint {
        Checkpoint(config: config, vocab: vocab, tensors: namedTensors, provenance: provenance)
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { Glibc.sin(x) }
#else
import Darwin
@inline(__always) private func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Darwin.cos(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { Darwin.sin(x) }
#endif
