/// One tensor of a pare-dlm file as stored: HF name, shape, storage precision and encoding.
public struct TensorInfo: Equatable, Sendable {
    public let name: String
    /// The dense shape ([out, in] for linears), whatever the encoding.
    public let shape: [Int]
    /// Precision of the stored values (for a sparse encoding, of its value dataset).
    public let dtype: StorageDType
    /// Stored under HDF5's Fletcher-32 checksum filter (every non-empty dataset of a sparse group).
    public let checksummed: Bool
    /// Dense dataset, or one of the sparse encodings a block linear may use.
    public let encoding: TensorEncoding
    /// Values the file stores: every element when dense; the kept values of CSR and bitmask;
    /// rows x (in / m x n) slots of N:M, padding included.
    public let storedValues: Int
    /// Bytes the tensor's datasets take in the file (values, indices, mask; HDF5's own
    /// bookkeeping excluded). 0 when unknown.
    public let storedBytes: Int

    public init(name: String, shape: [Int], dtype: StorageDType, checksummed: Bool = false,
                encoding: TensorEncoding = .dense, storedValues: Int? = nil, storedBytes: Int = 0) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.checksummed = checksummed
        self.encoding = encoding
        self.storedValues = storedValues ?? Self.saturatingSum(ofProducts: [shape])
        self.storedBytes = storedBytes
    }

    /// Elements of the dense shape, saturating at Int.max (a file may declare absurd shapes).
    public var count: Int { Self.saturatingSum(ofProducts: [shape]) }
    /// Bytes of the tensor stored dense in its dtype (what a sparse encoding is compared with),
    /// saturating at Int.max.
    public var byteCount: Int { Self.saturatingSum(ofProducts: [shape + [dtype.byteCount]]) }

    /// Bytes the tensor takes once loaded: fp32 dense, or the in-memory bitmask format
    /// (mask words, fp32 kept values, row offsets) for a sparse encoding. N:M padding slots
    /// count as kept here, so this is an upper bound for N:M.
    /// Saturates at Int.max (a file may declare absurd shapes; this only compares sizes).
    public var residentBytes: Int {
        guard encoding.isSparse, shape.count == 2 else { return Self.saturatingSum(ofProducts: [[count, 4]]) }
        let (rows, cols) = (shape[0], shape[1])
        return Self.saturatingSum(ofProducts: [[rows, (cols + 63) / 64, 8], [storedValues, 4], [rows + 1, 8]])
    }

    /// The sum of the products of each list of factors, or Int.max when it would overflow.
    static func saturatingSum(ofProducts terms: [[Int]]) -> Int {
        var sum = 0
        for factors in terms {
            var product = 1
            for factor in factors {
                let (next, overflow) = product.multipliedReportingOverflow(by: factor)
                if overflow { return .max }
                product = next
            }
            let (next, overflow) = sum.addingReportingOverflow(product)
            if overflow { return .max }
            sum = next
        }
        return sum
    }
}

/// Everything in a pare-dlm file except the tensor values: what `pare inspect` shows, and what a
/// streaming reader knows before it reads a single weight. Every field has been validated.
public struct CheckpointHeader: Sendable {
    public let path: String
    /// Size of the file in bytes.
    public let fileSize: Int
    public let config: ModelConfig
    public let tokenizer: StoredTokenizer
    /// The character vocabulary; empty for a BPE tokenizer.
    public var vocab: [String] { tokenizer.charVocab ?? [] }
    /// One JSON object text per history entry.
    public let provenance: [String]
    /// Every tensor of the config, in `ModelConfig.expectedTensors` order.
    public let tensors: [TensorInfo]
    /// True when the file's metadata (HDF5 superblock version 2 or later) and every tensor
    /// (Fletcher-32) carry checksums, as in files Pare writes, so damage reads as an error. Files
    /// written by h5py's defaults do not; resaving them with Pare adds the checksums.
    public let checksummed: Bool

    /// Saturates at Int.max (the loader refuses configs over `ModelConfig.maxParameters`).
    public var parameterCount: Int { TensorInfo.saturatingSum(ofProducts: tensors.map { [$0.count] }) }

    /// Bytes the weights take once loaded (fp32; sparse-encoded linears in the bitmask format),
    /// saturating at Int.max.
    public var residentBytes: Int {
        tensors.reduce(0) { total, tensor in
            let (sum, overflow) = total.addingReportingOverflow(tensor.residentBytes)
            return overflow ? .max : sum
        }
    }

    /// The seven linears of every block (the prunable weights), in file order.
    public var blockLinears: [TensorInfo] { tensors.filter { BlockLinear.parse(key: $0.name) != nil } }

    /// Bytes the block linears take in the file, and what they would take stored dense in the
    /// same precisions: how much a sparse encoding saves.
    public var blockLinearBytes: (stored: Int, dense: Int) {
        let linears = blockLinears
        return (TensorInfo.saturatingSum(ofProducts: linears.map { [$0.storedBytes] }),
                TensorInfo.saturatingSum(ofProducts: linears.map { [$0.count, $0.dtype.byteCount] }))
    }

    public func tensor(named name: String) -> TensorInfo? {
        tensors.first { $0.name == name }
    }

    /// Storage precision per tensor name, as `Checkpoint.storedDTypes` records it.
    public var storedDTypes: [String: StorageDType] {
        Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.dtype) })
    }
}
