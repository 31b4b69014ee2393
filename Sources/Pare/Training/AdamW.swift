import Foundation

/// AdamW (decoupled weight decay) over every parameter of a LLaDA model.
///
/// The moment estimates have the model's own shape (an `LLaDAModel` used as a tensor bag),
/// so checkpointing the optimizer is writing two more models.
public struct AdamW: Sendable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.99
    public var eps: Float = 1e-8
    public var weightDecay: Float = 0.1
    /// Steps taken so far (bias correction uses it).
    public var step = 0
    public var m: LLaDAModel
    public var v: LLaDAModel

    public init(like model: LLaDAModel) {
        m = model.zeroed()
        v = model.zeroed()
    }

    /// Decay applies to matrices other than the embedding; norms and embeddings are not decayed.
    static func decays(_ key: ParameterKey) -> Bool {
        switch key {
        case .wte, .lnF, .norm: return false
        case .head, .linear: return true
        }
    }

    /// One update: w -= lr * (m_hat / (sqrt(v_hat) + eps) + wd * w), for every parameter.
    public mutating func update(_ model: inout LLaDAModel, gradients g: LLaDAModel, learningRate lr: Float) {
        update(&model, gradients: g, learningRate: lr, keys: model.parameterKeys)
    }

    /// The same update for the parameters `keys` only. Where `masks` has a mask for a key, the
    /// positions it removes are held at exactly zero: weight, both moments, whatever the
    /// gradient says (sparse fine-tuning keeps its sparsity and no zero drifts).
    public mutating func update(_ model: inout LLaDAModel, gradients g: LLaDAModel, learningRate lr: Float,
                                keys: [ParameterKey], masks: [ParameterKey: Mask] = [:]) {
        step += 1
        let c1 = 1 - Foundation.pow(Double(beta1), Double(step)), c2 = 1 - Foundation.pow(Double(beta2), Double(step))
        let b1 = beta1, b2 = beta2, e = eps
        let stepSize = lr / Float(c1), c2s = Float(c2.squareRoot())
        for key in keys {
            let wd = Self.decays(key) ? weightDecay * lr : 0
            let grad = g[key]
            var w = model[key], mk = m[key], vk = v[key]
            let words = masks[key]?.words ?? []
            w.data.withUnsafeMutableBufferPointer { wp in
            mk.data.withUnsafeMutableBufferPointer { mp in
            vk.data.withUnsafeMutableBufferPointer { vp in
            grad.data.withUnsafeBufferPointer { gp in
            words.withUnsafeBufferPointer { kept in
                let masked = !kept.isEmpty
                for i in 0..<wp.count {
                    if masked && kept[i >> 6] & (1 << UInt64(i & 63)) == 0 {
                        wp[i] = 0; mp[i] = 0; vp[i] = 0
                        continue
                    }
                    let gi = gp[i]
                    mp[i] = b1 * mp[i] + (1 - b1) * gi
                    vp[i] = b2 * vp[i] + (1 - b2) * gi * gi
                    wp[i] -= stepSize * mp[i] / (vp[i].squareRoot() / c2s + e) + wd * wp[i]
                }
            }}}}}
            model[key] = w; m[key] = mk; v[key] = vk
        }
    }
}

extension LLaDAModel {
    /// A model of the same shape with every tensor zero (for gradients and optimizer moments).
    public func zeroed() -> LLaDAModel {
        var z = self
        for key in parameterKeys { z[key] = Tensor(zeros: self[key].shape) }
        return z
    }

    /// Global L2 norm over all tensors (used for gradient clipping).
    public var globalNorm: Double { norm(over: parameterKeys) }

    /// L2 norm over the tensors `keys` only (what a run that trains only those clips by).
    public func norm(over keys: [ParameterKey]) -> Double {
        keys.reduce(0.0) { acc, key in
            acc + self[key].data.withUnsafeBufferPointer { p in p.reduce(0.0) { $0 + Double($1) * Double($1) } }
        }.squareRoot()
    }

    /// Multiplies every tensor by `s`.
    public mutating func scale(by s: Float) {
        for key in parameterKeys {
            var t = self[key]
            t.data.withUnsafeMutableBufferPointer { if let p = $0.baseAddress { BLAS.scale($0.count, s, p) } }
            self[key] = t
        }
    }
}

/// Linear warmup, then cosine decay to a floor (ALGORITHMS-free standard schedule).
public struct LearningRateSchedule: Codable, Sendable {
    public var peak: Double
    public var floor: Double
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(peak: Double, floor: Double, warmupSteps: Int, totalSteps: Int) {
        self.peak = peak; self.floor = floor; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
    }

    /// Learning rate of 1-based step `step`.
    public func rate(at step: Int) -> Double {
        if step <= warmupSteps { return peak * Double(step) / Double(max(1, warmupSteps)) }
        let progress = min(1, Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps)))
        return floor + (peak - floor) * 0.5 * (1 + Foundation.cos(.pi * progress))
    }
}
