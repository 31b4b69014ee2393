import Foundation
import Testing
@testable import Pare

/// Checks `LLaDAModel.backward` against finite differences, on a tiny GQA model with a ragged batch.
///
/// Finite differences of the fp32 forward are dominated by rounding: the loss below moves by
/// a few 1e-6 from one fp32 evaluation to the next, so a step of 1e-2 leaves ~1e-4 of noise on
/// every numeric derivative, as large as many true gradient entries. The numeric side is
/// therefore taken from `Float64Forward`, the same forward written again in Double from
/// docs/algorithms.md §1, which is first checked to give the fp32 model's logits. Its central
/// differences are exact to ~1e-9, so the check measures the backward pass alone.
@Suite struct GradientTests {
    static let config = ModelConfig(vocabSize: 11, dModel: 8, nLayers: 2, nHeads: 2, nKVHeads: 1, dFF: 12,
                                    maxSeqLen: 16, maskTokenID: 10, eosTokenID: 9)
    /// Two sequences of different lengths in one batch (ragged, no padding).
    static let sequences = [[3, 1, 4, 1, 5], [9, 2, 6, 5, 3, 5, 8]]
    static var tokenCount: Int { sequences.reduce(0) { $0 + $1.count } }

    /// Weights large enough (std 0.5) that attention is far from uniform and SiLU far from
    /// linear, and norm weights spread over [0.6, 1.4], so every term of the backward pass matters.
    static let model: LLaDAModel = {
        var m = LLaDAModel.random(config: config, seed: 7, std: 0.5)
        var rng = SplitMix64(seed: 99)
        for key in m.parameterKeys where m[key].rank == 1 {
            m[key] = Tensor(shape: m[key].shape, data: m[key].data.map { _ in Float(0.6 + 0.8 * rng.uniform()) })
        }
        return m
    }()

    /// The loss weights r [tokens * vocab], fixed random in [-1, 1].
    static let lossWeights: [Double] = {
        var rng = SplitMix64(seed: 5)
        return (0..<(tokenCount * config.vocabSize)).map { _ in 2 * rng.uniform() - 1 }
    }()

    static func rows(_ t: Tensor) -> [[Double]] {
        (0..<t.rows).map { r in t.row(r).map(Double.init) }
    }

    /// L = sum over rows t and vocab v of r_tv * log_softmax(logits_t)_v, in Double.
    static func loss(_ logits: [[Double]], r: ArraySlice<Double>) -> Double {
        var total = 0.0
        var i = r.startIndex
        for row in logits {
            let mx = row.max() ?? 0
            let lse = Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - mx) }) + mx
            for l in row { total += r[i] * (l - lse); i += 1 }
        }
        return total
    }

    /// dL/dlogits_tv = r_tv - softmax_tv * sum_v r_tv   [tokens, vocab].
    static func dLogits(_ logits: Tensor, r: ArraySlice<Double>) -> Tensor {
        let V = logits.cols
        var d: [Float] = []
        var i = r.startIndex
        for row in rows(logits) {
            let mx = row.max() ?? 0
            let e = row.map { Foundation.exp($0 - mx) }
            let z = e.reduce(0, +)
            let rsum = r[i..<(i + V)].reduce(0, +)
            for v in 0..<V { d.append(Float(r[i + v] - e[v] / z * rsum)) }
            i += V
        }
        return Tensor(shape: logits.shape, data: d)
    }

    /// Analytic gradients of L for `sequences` batched together; r holds their rows' weights.
    static func gradients(_ sequences: [[Int]], r: ArraySlice<Double>) -> LLaDAModel {
        let (logits, cache) = model.forwardForTraining(sequences)
        return model.backward(dLogits(logits, r: r), cache: cache)
    }

    @Test func trainingForwardMatchesInference() throws {
        let (train, _) = Self.model.forwardForTraining(Self.sequences)
        let infer = try Self.model.logits(Self.sequences)
        #expect(train.shape == infer.shape)
        let diff = zip(train.data, infer.data).map { abs($0 - $1) }.max() ?? .infinity
        #expect(diff <= 1e-5, "training forward differs from logits by \(diff)")
    }

    /// The Double oracle computes the same function as the fp32 model.
    @Test func float64ForwardMatchesModel() throws {
        let ours = Self.rows(try Self.model.logits(Self.sequences))
        let ref = Float64Forward(Self.model).logits(Self.sequences)
        let diff = zip(ours.joined(), ref.joined()).map { abs($0 - $1) }.max() ?? .infinity
        let scale = ref.joined().map(abs).max() ?? 0
        #expect(scale > 1, "logits too small to exercise the model: max |logit| \(scale)")
        #expect(diff <= 1e-5 * scale, "float64 forward differs from LLaDAModel.logits by \(diff)")
    }

    /// Every entry of every parameter tensor: analytic (fp32 backward) against a central
    /// difference of the Double forward, relative error |a - n| / max(|a| + |n|, 1e-3) below 1e-3
    /// (fp32 rounding in the backward pass leaves ~1e-4 at worst).
    @Test func gradientsMatchFiniteDifferences() {
        let r = Self.lossWeights[...]
        let grads = Self.gradients(Self.sequences, r: r)
        let base = Float64Forward(Self.model)
        let h = 1e-3
        // The walk below must cover every tensor of the model.
        #expect(Set(Self.model.parameterKeys.map(\.description)) == Set(Self.model.namedTensors.keys))

        var report: [String] = []
        var worstOverall = 0.0
        for key in Self.model.parameterKeys {
            let analytic = grads[key]
            #expect(analytic.shape == Self.model[key].shape, "\(key) gradient has the wrong shape")
            var worst = 0.0, worstEntry = (index: 0, analytic: 0.0, numeric: 0.0)
            for i in analytic.data.indices {
                func lossAt(_ delta: Double) -> Double {
                    var m = base
                    m.params[key.description]?[i] += delta
                    return Self.loss(m.logits(Self.sequences), r: r)
                }
                let numeric = (lossAt(h) - lossAt(-h)) / (2 * h)
                let a = Double(analytic.data[i])
                let rel = abs(a - numeric) / max(abs(a) + abs(numeric), 1e-3)
                if rel > worst { worst = rel; worstEntry = (i, a, numeric) }
            }
            worstOverall = max(worstOverall, worst)
            report.append(String(format: "%@ (%d entries): worst rel err %.2e (entry %d: analytic %.7f, numeric %.7f)",
                                 key.description, analytic.count, worst, worstEntry.index, worstEntry.analytic, worstEntry.numeric))
        }
        print("gradient check:\n" + report.joined(separator: "\n"))
        #expect(worstOverall < 1e-3, "gradient check failed:\n\(report.joined(separator: "\n"))")
    }

    /// The batch's gradient equals the sum of the sequences' gradients taken alone: ragged
    /// batching never mixes sequences, in the backward pass as in the forward.
    @Test func batchGradientIsSumOfSequenceGradients() {
        let V = Self.config.vocabSize
        let batch = Self.gradients(Self.sequences, r: Self.lossWeights[...])
        var summed = Self.model.zeroed()
        var offset = 0
        for s in Self.sequences {
            summed.add(Self.gradients([s], r: Self.lossWeights[(offset * V)..<((offset + s.count) * V)]))
            offset += s.count
        }
        for key in Self.model.parameterKeys {
            let a = batch[key].data, b = summed[key].data
            let scale = max(a.map { abs($0) }.max() ?? 0, 1e-6)
            let diff = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
            #expect(diff <= 1e-5 * scale, "\(key): batch and per-sequence gradients differ by \(diff) (max |g| \(scale))")
        }
    }

    @Test func addIsAxpy() {
        var z = Self.model.zeroed()
        z.add(Self.model, scale: 2)
        z.add(Self.model, scale: -1)
        #expect(z.namedTensors == Self.model.namedTensors)
    }
}

/// The LLaDA forward pass (docs/algorithms.md §1) in Double with plain loops: the finite-difference
/// oracle. Parameters are held by HF name so a test can perturb any entry in Double.
private struct Float64Forward {
    let config: ModelConfig
    var params: [String: [Double]]

    init(_ model: LLaDAModel) {
        config = model.config
        params = model.namedTensors.mapValues { $0.data.map(Double.init) }
    }

    func p(_ name: String) -> [Double] { params["model.transformer." + name + ".weight"] ?? [] }

    /// y = x W^T with W [out, in] row-major.
    func linear(_ x: [[Double]], _ w: [Double]) -> [[Double]] {
        guard let inF = x.first?.count, inF > 0 else { return x }
        let outF = w.count / inF
        return x.map { row in (0..<outF).map { o in (0..<inF).reduce(0.0) { $0 + row[$1] * w[o * inF + $1] } } }
    }

    func rmsNorm(_ x: [[Double]], _ w: [Double]) -> [[Double]] {
        x.map { row in
            let inv = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(row.count) + config.normEps).squareRoot()
            return zip(row, w).map { $0 * inv * $1 }
        }
    }

    /// Rotate-half RoPE on every head of one row at `position`.
    func rope(_ row: [Double], heads: Int, position: Int) -> [Double] {
        let hd = config.headDim, half = hd / 2
        var out = row
        for h in 0..<heads {
            for i in 0..<half {
                let angle = Double(position) * Foundation.pow(config.ropeTheta, -2 * Double(i) / Double(hd))
                let a = row[h * hd + i], b = row[h * hd + i + half]
                out[h * hd + i] = a * Foundation.cos(angle) - b * Foundation.sin(angle)
                out[h * hd + i + half] = b * Foundation.cos(angle) + a * Foundation.sin(angle)
            }
        }
        return out
    }

    /// Bidirectional GQA attention of one sequence: q [n, nH*hd], k, v [n, nKV*hd].
    func attention(_ q: [[Double]], _ k: [[Double]], _ v: [[Double]]) -> [[Double]] {
        let hd = config.headDim, group = config.nHeads / config.nKVHeads, n = q.count
        var out = [[Double]](repeating: [Double](repeating: 0, count: config.nHeads * hd), count: n)
        for h in 0..<config.nHeads {
            let qo = h * hd, ko = (h / group) * hd
            for i in 0..<n {
                let s = (0..<n).map { j in (0..<hd).reduce(0.0) { $0 + q[i][qo + $1] * k[j][ko + $1] } / Double(hd).squareRoot() }
                let mx = s.max() ?? 0
                let e = s.map { Foundation.exp($0 - mx) }
                let z = e.reduce(0, +)
                for j in 0..<n { for c in 0..<hd { out[i][qo + c] += e[j] / z * v[j][ko + c] } }
            }
        }
        return out
    }

    /// Logits of each sequence run alone, rows stacked: [tokens][vocab].
    func logits(_ sequences: [[Int]]) -> [[Double]] {
        sequences.flatMap { seq -> [[Double]] in
            let d = config.dModel, wte = p("wte")
            var x = seq.map { Array(wte[($0 * d)..<(($0 + 1) * d)]) }
            for b in 0..<config.nLayers {
                let blk = "blocks.\(b)."
                let n1 = rmsNorm(x, p(blk + "attn_norm"))
                let q = linear(n1, p(blk + "q_proj")).enumerated().map { rope($1, heads: config.nHeads, position: $0) }
                let k = linear(n1, p(blk + "k_proj")).enumerated().map { rope($1, heads: config.nKVHeads, position: $0) }
                let v = linear(n1, p(blk + "v_proj"))
                let a = linear(attention(q, k, v), p(blk + "attn_out"))
                let h = zip(x, a).map { zip($0, $1).map(+) }
                let n2 = rmsNorm(h, p(blk + "ff_norm"))
                let g = linear(n2, p(blk + "ff_proj")), u = linear(n2, p(blk + "up_proj"))
                let m = zip(g, u).map { zip($0, $1).map { $0 / (1 + Foundation.exp(-$0)) * $1 } }
                x = zip(h, linear(m, p(blk + "ff_out"))).map { zip($0, $1).map(+) }
            }
            return linear(rmsNorm(x, p("ln_f")), p("ff_out"))
        }
    }
}
