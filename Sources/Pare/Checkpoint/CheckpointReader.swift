import Foundation

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

    let file: H5Handle
    let infoByName: [String: TensorInfo]

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
        let guardian = Self.metadataDeadline.map { MetadataDeadline(path: path, seconds: $0) }
        defer { guardian?.cancel() }
        header = try CheckpointHeaderParser(path: path, file: file, superblock: superblock).parse()
        infoByName = Dictionary(uniqueKeysWithValues: header.tensors.map { ($0.name, $0) })
    }

    /// When set, a process that spends longer than this reading a file's metadata (config,
    /// tokenizer, provenance, tensor list: milliseconds for a healthy file of any size) prints
    /// one error and exits with status 1. HDF5 loops forever on some damage to a global heap
    /// that Pare cannot check beforehand (string attributes); the CLI sets this so a damaged
    /// file is an error rather than a hang. Off by default: a library must not end its host.
    nonisolated(unsafe) public static var metadataDeadline: TimeInterval?

    /// Reads and validates the header only (config, vocab, provenance, tensor list).
    public static func inspect(path: String) throws -> CheckpointHeader {
        try CheckpointReader(path: path).header
    }

    /// Reads and validates the whole file.
    public static func read(path: String) throws -> Checkpoint {
        try CheckpointReader(path: path).readAll()
    }

    /// One tensor by HF name, checked to hold only finite values. A sparse-encoded weight is
    /// returned dense (zeros where pruned); `linear(named:)` keeps it sparse.
    public func tensor(named name: String) throws -> Tensor {
        guard let info = infoByName[name] else { throw CheckpointError.missingTensor(file: path, tensor: name) }
        if info.encoding.isSparse { return try sparseMatrix(info).dense }
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

    /// Chosen rows of a 2-D tensor (an embedding lookup), [rows.count, cols], checked finite.
    /// Only the stored chunks that hold those rows are read.
    public func rows(of name: String, _ rows: [Int]) throws -> Tensor {
        guard let info = infoByName[name], info.shape.count == 2 else {
            throw CheckpointError.missingTensor(file: path, tensor: name)
        }
        let cols = info.shape[1]
        let unique = Array(Set(rows)).sorted()
        if let bad = unique.first(where: { !(0..<info.shape[0]).contains($0) }) {
            throw CheckpointError.corrupt(file: path, object: "tensor \(name)", reason: "row \(bad) is out of range")
        }
        // Only block linears may be sparse, and they are read whole; this keeps any caller working.
        if info.encoding.isSparse { return try tensor(named: name).gatherRows(rows) }
        let values = try read(name, ranges: unique.map { $0..<($0 + 1) }, cols: cols, dtype: info.dtype)
        let slot = Dictionary(uniqueKeysWithValues: unique.enumerated().map { ($1, $0) })
        return Tensor(shape: [unique.count, cols], data: values).gatherRows(rows.map { slot[$0]! })
    }

    /// Rows `range` of a 2-D tensor, [range.count, cols], checked finite (a slab of a large
    /// embedding or head, copied without holding the whole tensor).
    public func rows(of name: String, in range: Range<Int>) throws -> Tensor {
        guard let info = infoByName[name], info.shape.count == 2 else {
            throw CheckpointError.missingTensor(file: path, tensor: name)
        }
        guard range.lowerBound >= 0 && range.upperBound <= info.shape[0] else {
            throw CheckpointError.corrupt(file: path, object: "tensor \(name)", reason: "rows \(range) are out of range")
        }
        if info.encoding.isSparse { return try tensor(named: name).sliceRows(range) }
        let cols = info.shape[1]
        return Tensor(shape: [range.count, cols], data: try read(name, ranges: [range], cols: cols, dtype: info.dtype))
    }

    private func read(_ name: String, ranges: [Range<Int>], cols: Int, dtype: StorageDType) throws -> [Float] {
        let values: [Float]
        do {
            values = try file.openDataset(Checkpoint.datasetPath(for: name)).readRows(ranges, cols: cols)
        } catch let problem as HDF5Problem {
            throw CheckpointError.corrupt(file: path, object: "tensor \(name)", reason: problem.summary)
        }
        try checkFinite(values, TensorInfo(name: name, shape: [values.count / max(1, cols), cols], dtype: dtype))
        return values
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
        var checkpoint = Checkpoint(config: header.config, tokenizer: header.tokenizer, tensors: tensors,
                                    provenance: header.provenance)
        checkpoint.storedDTypes = header.storedDTypes
        return checkpoint
    }

    func checkFinite(_ values: [Float], _ info: TensorInfo) throws {
        try checkFinite(values, tensor: info.name) { flat in
            var index: [Int] = []
            var rest = flat
            for dim in info.shape.reversed() {
                index.insert(rest % dim, at: 0)
                rest /= dim
            }
            return index
        }
    }

    /// Throws `.nonFinite` for the first NaN or infinity of `values`, whose position in the
    /// tensor `position(i)` gives.
    func checkFinite(_ values: [Float], tensor name: String, position: (Int) -> [Int]) throws {
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
        throw CheckpointError.nonFinite(file: path, tensor: name, count: bad, firstIndex: position(first),
                                        firstValue: values[first])
    }
}

extension Checkpoint {
    /// Reads and validates a pare-dlm file (docs/format.md); every defect is a `CheckpointError`.
    public static func load(from path: String) throws -> Checkpoint {
        try CheckpointReader.read(path: path)
    }
}

/// The timer behind `CheckpointReader.metadataDeadline`.
private final class MetadataDeadline: @unchecked Sendable {
    private let work: DispatchWorkItem

    init(path: String, seconds: TimeInterval) {
        work = DispatchWorkItem {
            let message = "error: \(path.escapedForOneLine): reading the file's metadata did not finish in \(Int(seconds)) s: "
                + "its HDF5 headers or global heap are damaged"
            FileHandle.standardError.write(Data((message + "\n").utf8))
            _exit(1)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: work)
    }

    func cancel() { work.cancel() }
}
