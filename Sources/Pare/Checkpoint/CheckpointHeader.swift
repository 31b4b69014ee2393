/// One tensor of a pare-dlm file as stored: HF name, shape and storage precision.
public struct TensorInfo: Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    public let dtype: StorageDType
    /// Stored under HDF5's Fletcher-32 checksum filter.
    public let checksummed: Bool

    public init(name: String, shape: [Int], dtype: StorageDType, checksummed: Bool = false) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.checksummed = checksummed
    }

    public var count: Int { shape.reduce(1, *) }
    public var byteCount: Int { count * dtype.byteCount }
}

/// Everything in a pare-dlm file except the tensor values: what `pare inspect` shows, and what a
/// streaming reader knows before it reads a single weight. Every field has been validated.
public struct CheckpointHeader: Sendable {
    public let path: String
    /// Size of the file in bytes.
    public let fileSize: Int
    public let config: ModelConfig
    public let vocab: [String]
    /// One JSON object text per history entry.
    public let provenance: [String]
    /// Every tensor of the config, in `ModelConfig.expectedTensors` order.
    public let tensors: [TensorInfo]
    /// True when the file's metadata (HDF5 superblock version 2 or later) and every tensor
    /// (Fletcher-32) carry checksums, as in files Pare writes, so damage reads as an error. Files
    /// written by h5py's defaults do not; resaving them with Pare adds the checksums.
    public let checksummed: Bool

    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.count } }

    public func tensor(named name: String) -> TensorInfo? {
        tensors.first { $0.name == name }
    }

    /// Storage precision per tensor name, as `Checkpoint.storedDTypes` records it.
    public var storedDTypes: [String: StorageDType] {
        Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.dtype) })
    }
}
