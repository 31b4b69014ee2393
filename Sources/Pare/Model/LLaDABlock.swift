/// One LLaDA transformer block: pre-norm attention and a SwiGLU MLP (docs/algorithms.md §1).
///
///   h = x + attn_out(Attn(attn_norm(x)))
///   y = h + ff_out(silu(ff_proj(ff_norm(h))) * up_proj(ff_norm(h)))
///
/// A Dream block is the same block with biases on q_proj, k_proj and v_proj (`biases`), added
/// before RoPE. Pruning replaces linears and never touches the biases.
///
/// One forward serves inference, calibration (which reads the linears' inputs) and training
/// (which keeps what the backward pass needs); the backward pass sits below it.
public struct LLaDABlock: Equatable, Sendable {
    public var attnNorm: Tensor   // attn_norm  [d]
    public var qProj: Linear      // q_proj     [nHeads * hd, d]
    public var kProj: Linear      // k_proj     [nKVHeads * hd, d]
    public var vProj: Linear      // v_proj     [nKVHeads * hd, d]
    public var attnOut: Linear    // attn_out   [d, nHeads * hd]
    public var ffNorm: Tensor     // ff_norm    [d]
    public var ffProj: Linear     // ff_proj    [dFF, d]  (gate, SiLU applied)
    public var upProj: Linear     // up_proj    [dFF, d]
    public var ffOut: Linear      // ff_out     [d, dFF]  (down projection)
    /// Dream's q/k/v biases, [out] each, keyed by linear (`BlockLinear.biased`); empty for LLaDA.
    public var biases: [BlockLinear: Tensor]

    public init(attnNorm: Tensor, qProj: Linear, kProj: Linear, vProj: Linear, attnOut: Linear,
                ffNorm: Tensor, ffProj: Linear, upProj: Linear, ffOut: Linear, biases: [BlockLinear: Tensor] = [:]) {
        self.attnNorm = attnNorm; self.qProj = qProj; self.kProj = kProj; self.vProj = vProj
        self.attnOut = attnOut; self.ffNorm = ffNorm; self.ffProj = ffProj; self.upProj = upProj
        self.ffOut = ffOut; self.biases = biases
    }

    public subscript(linear: BlockLinear) -> Linear {
        get {
            switch linear {
            case .qProj: return qProj
            case .kProj: return kProj
            case .vProj: return vProj
            case .attnOut: return attnOut
            case .ffProj: return ffProj
            case .upProj: return upProj
            case .ffOut: return ffOut
            }
        }
        set {
            switch linear {
            case .qProj: qProj = newValue
            case .kProj: kProj = newValue
            case .vProj: vProj = newValue
            case .attnOut: attnOut = newValue
            case .ffProj: ffProj = newValue
            case .upProj: upProj = newValue
            case .ffOut: ffOut = newValue
            }
        }
    }

    public subscript(norm: BlockNorm) -> Tensor {
        get { norm == .attnNorm ? attnNorm : ffNorm }
        set { if norm == .attnNorm { attnNorm = newValue } else { ffNorm = newValue } }
    }

    /// Builds block `index` from tensors looked up by HF key (the loader has checked shapes).
    public init(index: Int, biased: Bool = false, tensor: (String) throws -> Tensor) throws {
        try self.init(index: index, biased: biased, tensor: tensor, linear: { Linear(try tensor($0)) })
    }

    /// Builds block `index` from a file: its linears as the file stores them (sparse-encoded
    /// weights become sparse linears, never densified on the way).
    public init(index: Int, reader: CheckpointReader) throws {
        try self.init(index: index, biased: reader.header.config.hasQKVBias, tensor: { try reader.tensor(named: $0) },
                      linear: { try reader.linear(named: $0) })
    }

    /// Builds block `index` from its norms and its linears (and, when `biased`, the q/k/v
    /// biases), each looked up by HF key.
    public init(index: Int, biased: Bool = false, tensor: (String) throws -> Tensor,
                linear linearNamed: (String) throws -> Linear) throws {
        func linear(_ l: BlockLinear) throws -> Linear { try linearNamed(l.key(block: index)) }
        var biases: [BlockLinear: Tensor] = [:]
        if biased { for l in BlockLinear.biased { biases[l] = try tensor(l.biasKey(block: index)) } }
        self.init(attnNorm: try tensor(BlockNorm.attnNorm.key(block: index)),
                  qProj: try linear(.qProj), kProj: try linear(.kProj), vProj: try linear(.vProj),
                  attnOut: try linear(.attnOut), ffNorm: try tensor(BlockNorm.ffNorm.key(block: index)),
                  ffProj: try linear(.ffProj), upProj: try linear(.upProj), ffOut: try linear(.ffOut), biases: biases)
    }

    /// One of the tensors of a block: nine for LLaDA, twelve for Dream (q/k/v biases).
    public enum Part: Sendable {
        case norm(BlockNorm)
        case linear(BlockLinear)
        case bias(BlockLinear)

        public func key(block index: Int) -> String {
            switch self {
            case .norm(let n): return n.key(block: index)
            case .linear(let l): return l.key(block: index)
            case .bias(let l): return l.biasKey(block: index)
            }
        }
    }

    /// The block's tensors in file order (docs/format.md, "Streaming"): each norm, then the
    /// linears of its half (Dream: the q/k/v biases after v_proj).
    public static let fileOrder: [Part] = fileOrder(biased: false)

    public static func fileOrder(biased: Bool) -> [Part] {
        [.norm(.attnNorm), .linear(.qProj), .linear(.kProj), .linear(.vProj)]
            + (biased ? BlockLinear.biased.map { .bias($0) } : [])
            + [.linear(.attnOut), .norm(.ffNorm), .linear(.ffProj), .linear(.upProj), .linear(.ffOut)]
    }

    /// The block's tensors under their HF keys, in file order, linears densified.
    public func namedTensors(index: Int) -> [(key: String, tensor: Tensor)] {
        Self.fileOrder(biased: !biases.isEmpty).map { part in
            switch part {
            case .norm(let n): return (part.key(block: index), self[n])
            case .linear(let l): return (part.key(block: index), self[l].weight)
            case .bias(let l): return (part.key(block: index), biases[l]!)
            }
        }
    }
}

/// What one block's forward pass kept: the linears' inputs (calibration reads these) and, when
/// recording for training, everything the backward pass needs.
public struct BlockActivations: Sendable {
    public var input: Tensor          // x [T, d]
    public var attnNormed: Tensor     // attn_norm(x) [T, d]          (into q, k, v)
    public var attnInvRMS: [Float]    // [T]
    public var q: Tensor              // after RoPE [T, nHeads * hd]
    public var k: Tensor              // after RoPE [T, nKVHeads * hd]
    public var v: Tensor              // [T, nKVHeads * hd]
    /// Each (sequence, head) softmax matrix [len, len], sequence-major then head-major;
    /// empty unless recorded for training.
    public var probabilities: [Float]
    public var attention: Tensor      // concatenated head outputs [T, nHeads * hd]  (into attn_out)
    public var mid: Tensor            // h = x + attn_out(attention) [T, d]
    public var ffNormed: Tensor       // ff_norm(h) [T, d]            (into ff_proj, up_proj)
    public var ffInvRMS: [Float]      // [T]
    public var gate: Tensor           // ff_proj pre-activation [T, dFF]
    public var up: Tensor             // up_proj output [T, dFF]
    public var hidden: Tensor         // silu(gate) * up [T, dFF]    (into ff_out)

    /// The input matrix of the linears at `site`.
    public subscript(site: LinearSite) -> Tensor {
        switch site {
        case .attention: return attnNormed
        case .attentionHeads: return attention
        case .mlp: return ffNormed
        case .mlpHidden: return hidden
        }
    }
}

/// How much of a forward pass to keep.
public enum ForwardRecording: Sendable {
    /// Nothing (inference).
    case nothing
    /// Every intermediate except the attention probabilities (calibration).
    case linearInputs
    /// Everything the backward pass needs (training).
    case forBackward
}

extension LLaDABlock {
    /// Runs the block over a ragged batch. x: [T, d] -> [T, d].
    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        forward(x, ctx, recording: .nothing).output
    }

    /// The forward pass, keeping what `recording` asks for (the kept tensors are intermediates
    /// the pass makes anyway: recording costs memory, not compute).
    public func forward(_ x: Tensor, _ ctx: ForwardContext,
                        recording: ForwardRecording) -> (output: Tensor, activations: BlockActivations?) {
        let c = ctx.config, eps = Float(c.normEps)
        // Attention half: h = x + attn_out(Attn(attn_norm(x)))
        let (n1, inv1) = Norm.forward(x, weight: attnNorm, eps: eps)               // [T, d]
        let n1T = Linear.sharedInput(n1, for: [qProj, kProj, vProj])               // n1^T for sparse q/k/v
        var q = qProj.apply(n1, transposed: n1T)                                    // [T, nH*hd]
        var k = kProj.apply(n1, transposed: n1T)                                    // [T, nKV*hd]
        var v = vProj.apply(n1, transposed: n1T)                                    // [T, nKV*hd]
        if !biases.isEmpty {
            // Dream: q, k, v += bias, before RoPE (as Qwen2's nn.Linear(bias=True) does).
            if let b = biases[.qProj] { q.addToEveryRow(b) }
            if let b = biases[.kProj] { k.addToEveryRow(b) }
            if let b = biases[.vProj] { v.addToEveryRow(b) }
        }
        ctx.rope.apply(&q, heads: c.nHeads, positions: ctx.layout.positions)
        ctx.rope.apply(&k, heads: c.nKVHeads, positions: ctx.layout.positions)
        let (a, probabilities) = Attention.forward(q: q, k: k, v: v, layout: ctx.layout, nHeads: c.nHeads,
                                                   nKVHeads: c.nKVHeads, headDim: c.headDim,
                                                   recordingProbabilities: recording == .forBackward) // [T, nH*hd]
        var h = x
        attnOut.applyAccumulate(a, into: &h)                                        // h += a attn_out^T
        // MLP half: y = h + ff_out(silu(ff_proj(n2)) * up_proj(n2))
        let (n2, inv2) = Norm.forward(h, weight: ffNorm, eps: eps)                  // [T, d]
        let n2T = Linear.sharedInput(n2, for: [ffProj, upProj])                    // n2^T for sparse gate/up
        var g = ffProj.apply(n2, transposed: n2T)                                   // [T, dFF]
        let u = upProj.apply(n2, transposed: n2T)                                   // [T, dFF]
        guard recording != .nothing else {
            // Inference keeps nothing, so the gate and the residual are overwritten in place.
            SwiGLU.multiplyInPlace(&g, up: u)                                       // g = silu(g) * u
            ffOut.applyAccumulate(g, into: &h)                                      // y = h + g ff_out^T
            return (h, nil)
        }
        let m = SwiGLU.forward(gate: g, up: u)                                      // [T, dFF]
        var y = h
        ffOut.applyAccumulate(m, into: &y)                                          // y = h + m ff_out^T
        return (y, BlockActivations(input: x, attnNormed: n1, attnInvRMS: inv1, q: q, k: k, v: v,
                                    probabilities: probabilities, attention: a, mid: h, ffNormed: n2,
                                    ffInvRMS: inv2, gate: g, up: u, hidden: m))
    }

    /// The forward run in reverse. Each residual passes its gradient straight through and the
    /// branch adds onto it. dY: dL/dy [T, d], with the activations recorded `.forBackward`.
    /// Returns dL/dx [T, d] and the parameter gradients as a block (each tensor is the
    /// gradient of the same-named weight).
    public func backward(_ dY: Tensor, activations c: BlockActivations,
                         _ ctx: ForwardContext) -> (dX: Tensor, grads: LLaDABlock) {
        let cfg = ctx.config, layout = ctx.layout
        // MLP half. dh starts as the skip path's copy of dy.
        var dH = dY                                                                 // [T, d]
        let dFfOut = Linear.weightGradient(dY, input: c.hidden)                     // [d, dFF]
        let dM = ffOut.inputGradient(dY)                                            // [T, dFF]
        let (dGate, dUp) = SwiGLU.backward(dM, gate: c.gate, up: c.up)              // [T, dFF] each
        let dFfProj = Linear.weightGradient(dGate, input: c.ffNormed)               // [dFF, d]
        let dUpProj = Linear.weightGradient(dUp, input: c.ffNormed)                 // [dFF, d]
        var dN2 = ffProj.inputGradient(dGate)                                       // [T, d]
        upProj.inputGradient(dUp, into: &dN2, accumulate: true)
        let dFfNorm = Norm.backward(dN2, x: c.mid, weight: ffNorm, invRMS: c.ffInvRMS,
                                    accumulatingInto: &dH)                          // [d]

        // Attention half. dx starts as the skip path's copy of dh.
        var dX = dH                                                                 // [T, d]
        let dAttnOut = Linear.weightGradient(dH, input: c.attention)                // [d, nH*hd]
        let dA = attnOut.inputGradient(dH)                                          // [T, nH*hd]
        var (dQ, dK, dV) = Attention.backward(dOut: dA, q: c.q, k: c.k, v: c.v,
                                              probabilities: c.probabilities, layout: layout,
                                              nHeads: cfg.nHeads, nKVHeads: cfg.nKVHeads, headDim: cfg.headDim)
        // RoPE is a rotation, so its backward is the rotation by -angle.
        ctx.rope.apply(&dQ, heads: cfg.nHeads, positions: layout.positions, inverse: true)
        ctx.rope.apply(&dK, heads: cfg.nKVHeads, positions: layout.positions, inverse: true)
        let dQProj = Linear.weightGradient(dQ, input: c.attnNormed)                 // [nH*hd, d]
        let dKProj = Linear.weightGradient(dK, input: c.attnNormed)                 // [nKV*hd, d]
        let dVProj = Linear.weightGradient(dV, input: c.attnNormed)                 // [nKV*hd, d]
        var dN1 = qProj.inputGradient(dQ)                                           // [T, d]
        kProj.inputGradient(dK, into: &dN1, accumulate: true)
        vProj.inputGradient(dV, into: &dN1, accumulate: true)
        let dAttnNorm = Norm.backward(dN1, x: c.input, weight: attnNorm, invRMS: c.attnInvRMS,
                                      accumulatingInto: &dX)                        // [d]

        let grads = LLaDABlock(attnNorm: dAttnNorm, qProj: Linear(dQProj), kProj: Linear(dKProj),
                               vProj: Linear(dVProj), attnOut: Linear(dAttnOut), ffNorm: dFfNorm,
                               ffProj: Linear(dFfProj), upProj: Linear(dUpProj), ffOut: Linear(dFfOut))
        return (dX, grads)
    }
}

public enum ModelError: Error, CustomStringConvertible {
    case missingTensor(String)
    case tokenOutOfRange(Int, vocabSize: Int)
    case sequenceTooLong(Int, max: Int)
    /// Activations turned NaN or infinite: in block `block` (nil: after the blocks, in the
    /// final norm or the head).
    case nonFiniteActivations(block: Int?)

    public var description: String {
        switch self {
        case .missingTensor(let n): return "model tensor \(n) is missing"
        case .tokenOutOfRange(let t, let v): return "token id \(t) is outside the vocabulary (size \(v))"
        case .sequenceTooLong(let n, let m): return "sequence of \(n) tokens exceeds the model's max_seq_len \(m)"
        case .nonFiniteActivations(let block?):
            return "the forward pass produced NaN or infinite activations in block \(block) (its weights are finite: an overflow)"
        case .nonFiniteActivations(nil):
            return "the forward pass produced NaN or infinite logits after the last block (final norm or output head)"
        }
    }
}
