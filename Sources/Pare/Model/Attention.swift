/// Bidirectional multi-head attention with grouped-query heads over a ragged batch.
///
/// softmax(q k^T / sqrt(head_dim)) v, with no mask: every position of a sequence sees
/// every position of the same sequence and nothing of the others (docs/algorithms.md §1).
/// Head h reads kv head h / (nHeads / nKVHeads).
public enum Attention {
    /// q: [tokens, nHeads * hd], k and v: [tokens, nKVHeads * hd] (RoPE already applied).
    /// Returns the concatenated head outputs [tokens, nHeads * hd] and, when
    /// `recordingProbabilities`, each (sequence, head) attention matrix [len, len],
    /// sequence-major then head-major (empty otherwise).
    public static func forward(q: Tensor, k: Tensor, v: Tensor, layout: SequenceLayout,
                               nHeads: Int, nKVHeads: Int, headDim hd: Int,
                               recordingProbabilities: Bool = false) -> (output: Tensor, probabilities: [Float]) {
        let qWidth = nHeads * hd, kvWidth = nKVHeads * hd
        let group = nHeads / nKVHeads
        let scale = 1 / Float(hd).squareRoot()
        var out = Tensor(overwritten: [layout.totalTokens, qWidth])  // each (sequence, head) writes its block
        let maxLen = layout.maxLength
        var saved: [Float] = []
        if recordingProbabilities {
            saved.reserveCapacity(layout.lengths.reduce(0) { $0 + $1 * $1 } * nHeads)
        }
        // Every (sequence, head) pair is independent. Inference runs them on all cores, each
        // pair's products on one thread (small products split across threads cost more in
        // hand-offs than they gain); training records the probabilities in order, on one thread.
        let pairs = (0..<layout.count).filter { layout.lengths[$0] > 0 }.flatMap { seq in (0..<nHeads).map { (seq, $0) } }
        let workers = recordingProbabilities ? 1 : min(Parallel.cores, pairs.count)
        q.data.withUnsafeBufferPointer { qp in
        k.data.withUnsafeBufferPointer { kp in
        v.data.withUnsafeBufferPointer { vp in
        out.data.withUnsafeMutableBufferPointer { op in
            let (qb, kb, vb, ob) = (qp.baseAddress!, kp.baseAddress!, vp.baseAddress!, op.baseAddress!)
            Parallel.forEach(workers) { worker in
                var scores = [Float](repeating: 0, count: maxLen * maxLen)
                scores.withUnsafeMutableBufferPointer { sp in
                    let s = sp.baseAddress!
                    for (seq, h) in pairs[(pairs.count * worker / workers)..<(pairs.count * (worker + 1) / workers)] {
                        let n = layout.lengths[seq], o = layout.offsets[seq], kvh = h / group
                        // scores [n, n] = scale * Q_h K_kvh^T
                        BLAS.gemmOnThisThread(transB: true, m: n, n: n, k: hd, alpha: scale,
                                              a: qb + o * qWidth + h * hd, lda: qWidth,
                                              b: kb + o * kvWidth + kvh * hd, ldb: kvWidth,
                                              c: s, ldc: n)
                        VectorMath.softmaxRows(s, rows: n, n)
                        if recordingProbabilities { saved.append(contentsOf: UnsafeBufferPointer(start: s, count: n * n)) }
                        // out_h [n, hd] = P V_kvh
                        BLAS.gemmOnThisThread(m: n, n: hd, k: n,
                                              a: s, lda: n,
                                              b: vb + o * kvWidth + kvh * hd, ldb: kvWidth,
                                              c: ob + o * qWidth + h * hd, ldc: qWidth)
                    }
                }
            }
        }}}}
        return (out, saved)
    }
}
/// Backward pass of `Attention.forward`: bidirectional grouped-query attention over a ragged batch.
///
/// Per sequence and head h (kv head j = h / group), with S = scale * Q_h K_j^T, P = softmax(S)
/// row-wise and O_h = P V_j:
///   dV_j += P^T dO_h                 [n, hd]
///   dP    = dO_h V_j^T               [n, n]
///   dS    = P * (dP - rowsum(dP * P))   (softmax backward, row by row)
///   dQ_h  = scale * dS K_j           [n, hd]
///   dK_j += scale * dS^T Q_h         [n, hd]
/// The heads of one group share K_j and V_j, so their dK_j and dV_j accumulate (beta = 1).
// MARK: backward

extension Attention {
    /// dOut: [T, nHeads * hd]; q, k, v: the forward's inputs (q, k after RoPE);
    /// probabilities: as recorded by `forward(recordingProbabilities: true)`.
    /// Returns the gradients with respect to q, k and v (q, k still in the rotated frame).
    public static func backward(dOut: Tensor, q: Tensor, k: Tensor, v: Tensor, probabilities: [Float],
                                layout: SequenceLayout, nHeads: Int, nKVHeads: Int, headDim hd: Int)
        -> (dQ: Tensor, dK: Tensor, dV: Tensor) {
        let qWidth = nHeads * hd, kvWidth = nKVHeads * hd
        let group = nHeads / nKVHeads
        let scale = 1 / Float(hd).squareRoot()
        precondition(dOut.shape == q.shape && q.cols == qWidth && k.cols == kvWidth && v.shape == k.shape,
                     "Attention.backward: shape mismatch")
        precondition(probabilities.count == layout.lengths.reduce(0) { $0 + $1 * $1 } * nHeads,
                     "Attention.backward: probabilities do not match the layout")
        var dQ = Tensor(zeros: q.shape), dK = Tensor(zeros: k.shape), dV = Tensor(zeros: v.shape)
        let maxLen = layout.maxLength
        guard maxLen > 0 else { return (dQ, dK, dV) }
        var dScores = [Float](repeating: 0, count: maxLen * maxLen)   // dP, then dS, of one head
        dOut.data.withUnsafeBufferPointer { gp in
        q.data.withUnsafeBufferPointer { qp in
        k.data.withUnsafeBufferPointer { kp in
        v.data.withUnsafeBufferPointer { vp in
        probabilities.withUnsafeBufferPointer { pp in
        dQ.data.withUnsafeMutableBufferPointer { dqp in
        dK.data.withUnsafeMutableBufferPointer { dkp in
        dV.data.withUnsafeMutableBufferPointer { dvp in
        dScores.withUnsafeMutableBufferPointer { sp in
            guard let g = gp.baseAddress, let qb = qp.baseAddress, let kb = kp.baseAddress,
                  let vb = vp.baseAddress, let pb = pp.baseAddress, let dqb = dqp.baseAddress,
                  let dkb = dkp.baseAddress, let dvb = dvp.baseAddress, let ds = sp.baseAddress else { return }
            var pOffset = 0
            for seq in 0..<layout.count {
                let n = layout.lengths[seq], o = layout.offsets[seq]
                guard n > 0 else { continue }
                for h in 0..<nHeads {
                    let kvh = h / group
                    let p = pb + pOffset
                    pOffset += n * n
                    let dO = g + o * qWidth + h * hd, qh = qb + o * qWidth + h * hd
                    let kj = kb + o * kvWidth + kvh * hd, vj = vb + o * kvWidth + kvh * hd
                    // dV_j [n, hd] += P^T dO_h
                    BLAS.gemm(transA: true, m: n, n: hd, k: n, a: p, lda: n, b: dO, ldb: qWidth,
                              beta: 1, c: dvb + o * kvWidth + kvh * hd, ldc: kvWidth)
                    // dP [n, n] = dO_h V_j^T
                    BLAS.gemm(transB: true, m: n, n: n, k: hd, a: dO, lda: qWidth, b: vj, ldb: kvWidth,
                              c: ds, ldc: n)
                    // dS = P * (dP - rowsum(dP * P)), in place
                    Parallel.forEachChunk(n, minChunk: 64) { rows in
                        for r in rows {
                            let pr = p + r * n, dr = ds + r * n
                            var dot: Float = 0
                            for c in 0..<n { dot += dr[c] * pr[c] }
                            for c in 0..<n { dr[c] = pr[c] * (dr[c] - dot) }
                        }
                    }
                    // dQ_h [n, hd] = scale * dS K_j   (each head owns its dQ columns)
                    BLAS.gemm(m: n, n: hd, k: n, alpha: scale, a: ds, lda: n, b: kj, ldb: kvWidth,
                              c: dqb + o * qWidth + h * hd, ldc: qWidth)
                    // dK_j [n, hd] += scale * dS^T Q_h
                    BLAS.gemm(transA: true, m: n, n: hd, k: n, alpha: scale, a: ds, lda: n, b: qh, ldb: qWidth,
                              beta: 1, c: dkb + o * kvWidth + kvh * hd, ldc: kvWidth)
                }
            }
        }}}}}}}}}
        return (dQ, dK, dV)
    }
}
