/// Which pruner and which zero pattern (docs/algorithms.md §4).
public enum PruningMethod: String, CaseIterable, Codable, Sendable {
    case magnitude, wanda, sparsegpt

    /// Whether the method needs calibration activations.
    public var needsCalibration: Bool { self != .magnitude }
}

/// Unstructured (a fraction of each comparison group) or N:M (N zeros in every M columns).
public enum SparsityPattern: Equatable, Codable, Sendable, CustomStringConvertible {
    case unstructured
    case nOfM(n: Int, m: Int)

    /// Parses "unstructured" or "N:M".
    public init?(_ text: String) {
        if text == "unstructured" { self = .unstructured; return }
        let parts = text.split(separator: ":")
        guard parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]) else { return nil }
        self = .nOfM(n: n, m: m)
    }

    public var description: String {
        switch self {
        case .unstructured: return "unstructured"
        case .nOfM(let n, let m): return "\(n):\(m)"
        }
    }
}

/// What `pare prune` was asked to do.
public struct PruningSpec: Codable, Sendable {
    public var method: PruningMethod = .wanda
    public var pattern: SparsityPattern = .unstructured
    /// Target fraction of zeros (unstructured); for N:M the sparsity is N / M.
    public var sparsity: Double = 0.5
    /// Magnitude's comparison group: the whole matrix (reference behaviour) or each output row.
    public var magnitudePerRow = false
    /// SparseGPT's column block size.
    public var blockSize = 128
    /// SparseGPT's damping, as a fraction of the mean Hessian diagonal.
    public var dampening = 0.01

    public init() {}

    /// The fraction of weights this spec removes.
    public var effectiveSparsity: Double {
        if case .nOfM(let n, let m) = pattern { return Double(n) / Double(m) }
        return sparsity
    }

    /// One sentence naming what is out of range, checked against the model's linear shapes.
    public func problem(for config: ModelConfig) -> String? {
        switch pattern {
        case .unstructured:
            if !(sparsity >= 0 && sparsity < 1) { return "--sparsity must be in [0, 1) (got \(sparsity))" }
        case .nOfM(let n, let m):
            if n < 1 || m < 2 || n >= m { return "--pattern \(n):\(m): need 1 <= N < M" }
            let inFeatures = [config.dModel, config.nHeads * config.headDim, config.dFF]
            if let bad = inFeatures.first(where: { $0 % m != 0 }) {
                return "--pattern \(n):\(m): in-features \(bad) of some linears is not divisible by M = \(m)"
            }
        }
        if blockSize < 1 { return "SparseGPT block size must be at least 1" }
        if method == .sparsegpt, case .nOfM(_, let m) = pattern, blockSize % m != 0 {
            return "--pattern N:\(m): SparseGPT's column blocks of \(blockSize) must hold whole groups of M = \(m)"
        }
        return nil
    }
}

public enum PruningError: Error, CustomStringConvertible {
    case badSpec(String)
    case calibration(String)
    case numerical(String)

    public var description: String {
        switch self {
        case .badSpec(let s), .calibration(let s), .numerical(let s): return s
        }
    }
}
