/// Bidirectional multi-head attention with grouped-query heads over a ragged batch.
///
/// softmax(q k^T / sqrt(head_dim)) v, with no mask: every position of a sequence sees
/// every position of the same sequence and nothing of the others (ALGORITHMS.md §1).
/// Head h reads kv head h / (nHeads / nKVHeads).
public enum Attention {
    /// q: [tokens, nHeads * hd], k and v: [tokens, nKVHeads * hd] (RoPE already applied).
    /// Returns the concatenated head outputs [tokens, nHeads * hd]. If `probabilities` is
    /// given, it receives each (sequence, head) attention matrix [len, len], sequence-major.
    public static func forward(q: Tensor, k: Tensor, v: Tensor, layout: SequenceLayout,
                               nHeads: Int, nKVHeads: Int, headDim hd: Int,
                               probabilities: UnsafeMutablePointer<[Float]>? = nil) -> Tensor {
        let qWidth = nHeads * hd, kvWidth = nKVHeads * hd
        let group = nHeads / nKVHeads
        let scale = 1 / Float(hd).squareRoot()
        var out = Tensor(zeros: [layout.totalTokens, qWidth])
        let maxLen = layout.maxLength
        var scores = [Float](repeating: 0, count: maxLen * maxLen)
        var saved: [Float] = []
        if probabilities != nil {
            saved.reserveCapacity(layout.lengths.reduce(0) { $0 + $1 * $1 } * nHeads)
        }
        q.data.withUnsafeBufferPointer { qp in
        k.data.withUnsafeBufferPointer { kp in
        v.data.withUnsafeBufferPointer { vp in
        out.data.withUnsafeMutableBufferPointer { op in
        scores.withUnsafeMutableBufferPointer { sp in
            let s = sp.baseAddress!
            for seq in 0..<layout.count {
                let n = layout.lengths[seq], o = layout.offsets[seq]
                guard n > 0 else { continue }
                for h in 0..<nHeads {
                    let kvh = h / group
                    // scores [n, n] = scale * Q_h K_kvh^T
                    BLAS.gemm(transB: true, m: n, n: n, k: hd, alpha: scale,
                              a: qp.baseAddress! + o * qWidth + h * hd, lda: qWidth,
                              b: kp.baseAddress! + o * kvWidth + kvh * hd, ldb: kvWidth,
                              c: s, ldc: n)
                    Parallel.forEachChunk(n, minChunk: 64) { rows in
                        for r in rows { VectorMath.softmaxInPlace(s + r * n, n) }
                    }
                    if probabilities != nil { saved.append(contentsOf: UnsafeBufferPointer(start: s, count: n * n)) }
                    // out_h [n, hd] = P V_kvh
                    BLAS.gemm(m: n, n: hd, k: n,
                              a: s, lda: n,
                              b: vp.baseAddress! + o * kvWidth + kvh * hd, ldb: kvWidth,
                              c: op.baseAddress! + o * qWidth + h * hd, ldc: qWidth)
                }
            }
        }}}}}
        if let probabilities { probabilities.pointee = saved }
        return out
    }
}
