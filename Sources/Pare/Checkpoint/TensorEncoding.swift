/// How a tensor's values are laid out in a pare-dlm file (docs/format.md, "Sparse tensors").
///
/// Every tensor can be `dense` (one dataset). A block linear weight may instead be one of the
/// three sparse encodings, each an HDF5 group at the tensor's path; all three hold exactly the
/// non-zero weights, so converting dense-with-zeros to any of them and back is exact.
public enum TensorEncoding: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// One dataset of the tensor's shape, zeros included.
    case dense
    /// The anndata CSR encoding: `data`, `indices`, `indptr`, readable by scipy.
    case csr
    /// One bit per weight (`bitmask`, numpy `packbits(..., bitorder="little")` layout) and the
    /// kept values in row-major order (`values`).
    case bitmask
    /// At most `n` kept weights in every group of `m` consecutive inputs of a row: each group
    /// stores exactly `n` (position, value) slots.
    case nOfM(n: Int, m: Int)

    /// The group attribute `encoding-type` of each sparse encoding.
    public var encodingType: String? {
        switch self {
        case .dense: return nil
        case .csr: return "csr_matrix"
        case .bitmask: return "bitmask"
        case .nOfM: return "n_of_m"
        }
    }

    /// The group attribute `encoding-version` Pare writes and reads (one version per encoding
    /// so far, the one anndata uses for `csr_matrix`).
    public static let encodingVersion = "0.1.0"

    /// The short name used on the command line and in reports: dense, csr, bitmask, nm.
    public var storeName: String {
        switch self {
        case .dense: return "dense"
        case .csr: return "csr"
        case .bitmask: return "bitmask"
        case .nOfM: return "nm"
        }
    }

    public var description: String {
        if case .nOfM(let n, let m) = self { return "nm (\(n) of \(m))" }
        return storeName
    }

    public var isSparse: Bool { self != .dense }
}

/// The storage a command is asked to use for block linears (`--store`), before the N:M numbers
/// are known.
public enum LinearStore: String, CaseIterable, Sendable {
    case dense, csr, bitmask, nm

    /// The encoding for weights pruned with `pattern`. Pare's pattern N:M means N zeros in every
    /// M inputs, so the nm encoding keeps M - N of every M. Nil for `nm` without an N:M pattern.
    public func encoding(pattern: SparsityPattern) -> TensorEncoding? {
        switch self {
        case .dense: return .dense
        case .csr: return .csr
        case .bitmask: return .bitmask
        case .nm:
            guard case .nOfM(let zeros, let m) = pattern else { return nil }
            return .nOfM(n: m - zeros, m: m)
        }
    }
}

/// Names inside a sparse tensor's group (docs/format.md, "Sparse tensors"); the reader and the
/// writer both take them from here.
enum SparseGroup {
    static let typeAttribute = "encoding-type"
    static let versionAttribute = "encoding-version"
    static let shapeAttribute = "shape"
    /// N:M only: kept weights per group, and the group width.
    static let nAttribute = "n"
    static let mAttribute = "m"

    /// The value dataset of each encoding: CSR's `data`, the others' `values`.
    static func valuesDataset(_ encoding: TensorEncoding) -> String { encoding == .csr ? "data" : "values" }

    /// Every dataset the group of `encoding` holds, and nothing else.
    static func datasets(_ encoding: TensorEncoding) -> [String] {
        switch encoding {
        case .dense: return []
        case .csr: return ["data", "indices", "indptr"]
        case .bitmask: return ["bitmask", "values"]
        case .nOfM: return ["indices", "values"]
        }
    }
}
