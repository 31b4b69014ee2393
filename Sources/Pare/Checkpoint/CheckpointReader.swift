/// An open, validated pare-dlm file whose tensors are read on demand.
///
/// Opening reads and checks everything except the weights (`header`), so a 16 GB model can be
/// inspected instantly and streamed one transformer block at a time:
///
///     let reader = try CheckpointReader(path: "models/big.h5")
///     for i in 0..<reader.header.config.nLayers { let block = try reader.tensors(inBlock: i); ... }
///
/// All HDF5 access is serialized by the process-wide HDF5 lock, so one reader may be shared
/// across threads.
public final class CheckpointReader: @unchecked Sendable {
    public let header: CheckpointHeader
    public var path: String { header.path }

    private let file: H5Handle
    private let infoByName: [String: TensorInfo]

    public init(path: String) throws {
        let superblock: HDF5Preflight.Report
        do {
            superblock = try HDF5Preflight.check(path: path)
        } catch let failure as HDF5Preflight.OpenFailure {
            throw CheckpointError.cannotOpen(file: path, reason: failure.reason)
        }
        switch superblock.verdict {
        case .notHDF5: throw CheckpointError.notHDF5(file: path)
        case .truncated(let size, let expected): throw CheckpointError.truncated(file: path, size: size, expectedSize: expected)
        case .plausible: break
        }
        do {
            file = try H5Handle.openFile(path)
        } catch let failure as HDF5Failure {
            throw CheckpointError.corrupt(file: path, object: "", reason: failure.summary)
        }
        header = try CheckpointHeaderParser(path: path, file: file, superblock: superblock).parse()
        infoByName = Dictionary(uniqueKeysWithValues: header.tensors.map { ($0.name, $0) })
    }

    /// Reads and validates the header only (config, vocab, provenance, tensor list).
    public static func inspect(path: String) throws -> CheckpointHeader {
        try CheckpointReader(path: path).header
    }

    /// Reads and validates the whole file.
    public static func read(path: String) throws -> Checkpoint {
        try CheckpointReader(path: path).readAll()
    }

    /// One tensor by HF name, checked to hold only finite values.
    public func tensor(named name: String) throws -> Tensor {
        guard let info = infoByName[name] else { throw CheckpointError.missingTensor(file: path, tensor: name) }
        let values: [Float]
        do {
            values = try file.openDataset(Checkpoint.datasetPath(for: name)).readFloats()
        } catch let problem as HDF5Problem {
            throw CheckpointError.corrupt(file: path, object: "tensor \(name)", reason: problem.summary)
        }
        guard values.count == info.count else {
            throw CheckpointError.corrupt(file: path, object: "tensor \(name)",
                                          reason: "read \(values.count) values, expected \(info.count)")
        }
        try checkFinite(values, info)
        return Tensor(shape: info.shape, data: values)
    }

    /// The nine tensors of transformer block `index`, keyed by HF name.
    public func tensors(inBlock index: Int) throws -> [String: Tensor] {
        let prefix = "model.transformer.blocks.\(index)."
        let names = header.tensors.map(\.name).filter { $0.hasPrefix(prefix) }
        guard !names.isEmpty else { throw CheckpointError.missingTensor(file: path, tensor: prefix + "*") }
        return try Dictionary(uniqueKeysWithValues: names.map { ($0, try tensor(named: $0)) })
    }

    /// Every tensor, with the header, as one in-memory checkpoint.
    public func readAll() throws -> Checkpoint {
        var tensors: [String: Tensor] = [:]
        for info in header.tensors { tensors[info.name] = try tensor(named: info.name) }
        var checkpoint = Checkpoint(config: header.config, vocab: header.vocab, tensors: tensors,
                                    provenance: header.provenance)
        checkpoint.storedDTypes = header.storedDTypes
        return checkpoint
    }

    private func checkFinite(_ values: [Float], _ info: TensorInfo) throws {
        let (bad, first) = values.withUnsafeBufferPointer { buffer -> (Int, Int?) in
            var bad = 0
            var first: Int?
            for (i, v) in buffer.enumerated() where !v.isFinite {
                if first == nil { first = i }
                bad += 1
            }
            return (bad, first)
        }
        guard let first else { return }
        var index: [Int] = []
        var rest = first
        for dim in info.shape.reversed() {
            index.insert(rest % dim, at: 0)
            rest /= dim
        }
        throw CheckpointError.nonFinite(file: path, tensor: info.name, count: bad, firstIndex: index,
                                        firstValue: values[first])
    }
}

extension Checkpoint {
    /// Reads and validates a pare-dlm file (DESIGN.md); every defect is a `CheckpointError`.
    public static func load(from path: String) throws -> Checkpoint {
        try CheckpointReader.read(path: path)
    }
}
