/// A bias-free linear layer y = x W^T, forward and backward side by side.
///
/// How the weight is stored is the linear's own business: blocks call `apply` and
/// `applyAccumulate` and never look inside. The storage is chosen per weight at load
/// (`--kernels`, sparse files): dense fp32 through BLAS, dense packed for Pare's dense kernel
/// (decoding on AVX-512), or the bitmask format through Pare's sparse kernels. All give the
/// same products up to float rounding.
public struct Linear: Equatable, Sendable {
    public enum Storage: Equatable, Sendable {
        /// W [out, in], row-major fp32; a pruned weight holds exact zeros.
        case dense(Tensor)
        /// W [out, in] as a bitmask and its kept values (Sparse/BitmaskMatrix.swift).
        case sparse(BitmaskMatrix)
        /// W [out, in] packed in panels for Pare's dense kernel (Tensor/PackedWeight.swift).
        case packed(PackedWeight)
    }

    public var storage: Storage

    public init(_ weight: Tensor) {
        precondition(weight.rank == 2, "Linear: weight must be [out, in], got \(weight.shape)")
        storage = .dense(weight)
    }

    public init(sparse weight: BitmaskMatrix) {
        storage = .sparse(weight)
    }

    public var outFeatures: Int {
        switch storage { case .dense(let w): return w.rows; case .sparse(let s): return s.rows; case .packed(let p): return p.rows }
    }
    public var inFeatures: Int {
        switch storage { case .dense(let w): return w.cols; case .sparse(let s): return s.cols; case .packed(let p): return p.cols }
    }
    public var shape: [Int] { [outFeatures, inFeatures] }

    public var isSparse: Bool { if case .sparse = storage { return true } else { return false } }

    /// The weight as a dense [out, in] tensor (zeros where pruned); setting it stores it dense.
    public var weight: Tensor {
        get { switch storage { case .dense(let w): return w; case .sparse(let s): return s.dense; case .packed(let p): return p.dense } }
        set { storage = .dense(newValue) }
    }

    /// Output rows `range` of the weight as a dense [range.count, in] tensor (a packed or sparse
    /// weight unpacks only those rows).
    public func rows(in range: Range<Int>) -> Tensor {
        switch storage {
        case .dense(let w): return w.sliceRows(range)
        case .sparse(let s): return s.rows(in: range)
        case .packed(let p): return p.rows(in: range)
        }
    }

    /// Share of the weight that is zero.
    public var sparsity: Double {
        switch storage { case .dense(let w): return w.sparsity; case .sparse(let s): return s.sparsity; case .packed(let p): return p.sparsity }
    }

    /// The same weight stored sparse (bitmask), dense, or dense for the fastest dense kernel
    /// (packed where `PackedWeight.isFaster`, else plain for BLAS).
    public func storedSparse() -> Linear {
        switch storage { case .sparse: return self; default: return Linear(sparse: BitmaskMatrix(dense: weight)) }
    }
    public func storedDense() -> Linear {
        switch storage { case .dense: return self; default: return Linear(weight) }
    }
    public func storedForDenseKernel(tokens: Int) -> Linear {
        guard PackedWeight.isFaster(tokens: tokens) else { return storedDense() }
        switch storage { case .packed: return self; default: return Linear(storage: .packed(PackedWeight(weight))) }
    }

    init(storage: Storage) { self.storage = storage }

    /// The kept positions (non-zeros) of the weight.
    public var mask: Mask { Mask(nonZerosOf: weight) }

    // MARK: forward

    /// y [T, out] = x [T, in] W^T. `transposed`: x already transposed for the sparse kernels
    /// (`sharedInput(_:for:)`); only a sparse weight reads it.
    public func apply(_ x: Tensor, transposed: TransposedInput? = nil) -> Tensor {
        switch storage {
        case .dense(let w): return BLAS.linear(x, w)
        case .sparse(let s): return SparseKernels.linear(x, s, transposed: transposed)
        case .packed(let p):
            // The kernel writes every value (a zero-width input gives zeros).
            var y = p.cols > 0 ? Tensor(overwritten: [x.rows, p.rows]) : Tensor(zeros: [x.rows, p.rows])
            p.apply(x, into: &y, accumulate: false)
            return y
        }
    }

    /// x transposed once for `linears` that all read it (q/k/v, gate/up), to pass to their
    /// `apply`: nil unless two or more of them are sparse and run on tiles.
    public static func sharedInput(_ x: Tensor, for linears: [Linear]) -> TransposedInput? {
        let sparse = linears.filter { if case .sparse = $0.storage { return true } else { return false } }.count
        return sparse > 1 ? TransposedInput(x) : nil
    }

    /// y [T, out] += x [T, in] W^T (a residual connection fused into the product).
    public func applyAccumulate(_ x: Tensor, into y: inout Tensor) {
        switch storage {
        case .dense(let w): BLAS.linearAccumulate(x, w, into: &y)
        case .sparse(let s): SparseKernels.linear(x, s, into: &y, accumulate: true)
        case .packed(let p): p.apply(x, into: &y, accumulate: true)
        }
    }

    // MARK: backward

    /// dX [T, in] = dY [T, out] W, written into `dX` (added to it when `accumulate`: inputs
    /// shared by several linears, like q/k/v reading the same normed rows, sum their gradients).
    public func inputGradient(_ dY: Tensor, into dX: inout Tensor, accumulate: Bool) {
        let w = weight
        precondition(dY.cols == w.rows && dX.rows == dY.rows && dX.cols == w.cols, "Linear.inputGradient: shape mismatch")
        let tokens = dY.rows, inF = w.cols, outF = w.rows
        guard tokens > 0 else { return }
        dY.data.withUnsafeBufferPointer { gp in
        w.data.withUnsafeBufferPointer { wp in
        dX.data.withUnsafeMutableBufferPointer { xp in
            guard let g = gp.baseAddress, let wb = wp.baseAddress, let x = xp.baseAddress else { return }
            BLAS.gemm(m: tokens, n: inF, k: outF, a: g, lda: outF, b: wb, ldb: inF,
                      beta: accumulate ? 1 : 0, c: x, ldc: inF)
        }}}
    }

    /// dX [T, in] = dY W as a new tensor.
    public func inputGradient(_ dY: Tensor) -> Tensor {
        var dX = Tensor(zeros: [dY.rows, inFeatures])
        inputGradient(dY, into: &dX, accumulate: false)
        return dX
    }

    /// dW [out, in] = dY^T X, for dY [T, out] and the forward's input X [T, in].
    public static func weightGradient(_ dY: Tensor, input x: Tensor) -> Tensor {
        precondition(dY.rows == x.rows, "Linear.weightGradient: dY has \(dY.rows) rows, input \(x.rows)")
        let tokens = x.rows, inF = x.cols, outF = dY.cols
        var dW = Tensor(zeros: [outF, inF])
        guard tokens > 0 else { return dW }
        dY.data.withUnsafeBufferPointer { gp in
        x.data.withUnsafeBufferPointer { xp in
        dW.data.withUnsafeMutableBufferPointer { wp in
            guard let g = gp.baseAddress, let xb = xp.baseAddress, let w = wp.baseAddress else { return }
            BLAS.gemm(transA: true, m: outF, n: inF, k: tokens, a: g, lda: outF, b: xb, ldb: inF,
                      c: w, ldc: inF)
        }}}
        return dW
    }
}
