
/// Parameter-wise arithmetic on whole models, for gradients shaped like the model
/// (`LLaDAModel.backward`) and their accumulation over micro-batches.
/// (The all-zero model to accumulate into is `zeroed()`, next to AdamW.)
extension LLaDAModel {
    /// self += scale * other, parameter by parameter (BLAS.axpy). Shapes must match.
    public mutating func add(_ other: LLaDAModel, scale: Float = 1) {
        precondition(blocks.count == other.blocks.count, "add: models have different depths")
        for key in parameterKeys {
            let src = other[key]
            var t = self[key]
            precondition(t.shape == src.shape, "add: \(key) is \(t.shape) here and \(src.shape) in the other model")
            // Drop the model's reference first so `t` is uniquely owned and the axpy runs
            // in place instead of through a copy-on-write copy.
            self[key] = Tensor(zeros: [0])
            src.data.withUnsafeBufferPointer { sp in
                t.data.withUnsafeMutableBufferPointer { dp in
                    guard let s = sp.baseAddress, let d = dp.baseAddress else { return }
                    BLAS.axpy(dp.count, scale, s, d)
                }
            }
            self[key] = t
        }
    }
}
