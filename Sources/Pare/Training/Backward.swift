
/// Backward pass of the whole model: output head, final norm, the blocks in reverse, embedding.
extension LLaDAModel {
    /// Gradients of a scalar loss with respect to every parameter, given dLoss/dLogits
    /// [tokens, vocab] for the batch `cache` was made from. The result has the model's own
    /// shape: every tensor holds the gradient of the same-named parameter (config and RoPE
    /// copied from self). Dream's q/k/v biases get no gradient (they are not trained); their
    /// presence does not change the other gradients, which read the recorded activations.
    public func backward(_ dLogits: Tensor, cache: ForwardCache) -> LLaDAModel {
        let layout = cache.layout
        precondition(dLogits.shape == [layout.totalTokens, config.vocabSize],
                     "backward: dLogits is \(dLogits.shape), expected [\(layout.totalTokens), \(config.vocabSize)]")
        precondition(cache.blocks.count == blocks.count, "backward: cache is from a model with another depth")

        // logits = ln_f(hidden) head^T
        let dHead = Linear.weightGradient(dLogits, input: cache.finalNormed)             // [vocab, d]
        let dNormed = head.inputGradient(dLogits)                                        // [T, d]
        var dHidden = Tensor(zeros: cache.hidden.shape)                                  // [T, d]
        let dLnF = Norm.backward(dNormed, x: cache.hidden, weight: lnF, invRMS: cache.finalInvRMS,
                                        accumulatingInto: &dHidden)                      // [d]
        if let predicting = cache.predicting {
            // Dream's shift is a row gather, so its backward scatter-adds: a sequence's row 0
            // feeds positions 0 and 1 and gets both gradients.
            let d = dHidden.cols
            var unshifted = Tensor(zeros: dHidden.shape)
            dHidden.data.withUnsafeBufferPointer { src in
                unshifted.data.withUnsafeMutableBufferPointer { dst in
                    for (r, from) in predicting.enumerated() {
                        for j in 0..<d { dst[from * d + j] += src[r * d + j] }
                    }
                }
            }
            dHidden = unshifted
        }

        var blockGrads: [LLaDABlock] = []
        blockGrads.reserveCapacity(blocks.count)
        let ctx = context(layout)
        for (block, activations) in zip(blocks, cache.blocks).reversed() {
            let (dX, g) = block.backward(dHidden, activations: activations, ctx)
            blockGrads.append(g)
            dHidden = dX
        }
        blockGrads.reverse()

        let dWte = embeddingBackward(dHidden, tokens: cache.tokens)                      // [vocab, d]
        var grads = self
        grads.wte = dWte; grads.blocks = blockGrads; grads.lnF = dLnF; grads.head = Linear(dHead)
        return grads
    }

    /// x[r] = wte[token r], so dWte[id] is the sum of dX over the rows holding id (scatter-add;
    /// serial because rows repeat ids). dX: [T, d] -> [vocab, d].
    func embeddingBackward(_ dX: Tensor, tokens: [Int]) -> Tensor {
        let d = config.dModel
        precondition(dX.shape == [tokens.count, d], "embeddingBackward: shape mismatch")
        var dWte = Tensor(zeros: wte.shape)
        dX.data.withUnsafeBufferPointer { gp in
            dWte.data.withUnsafeMutableBufferPointer { wp in
                guard let g = gp.baseAddress, let w = wp.baseAddress else { return }
                for (r, id) in tokens.enumerated() {
                    BLAS.axpy(d, 1, g + r * d, w + id * d)
                }
            }
        }
        return dWte
    }
}
