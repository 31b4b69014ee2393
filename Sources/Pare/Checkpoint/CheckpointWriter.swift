import Foundation

/// Writes pare-dlm files (DESIGN.md "The model file").
///
/// The checkpoint is validated first (a file Pare writes must load again), then written to a
/// temporary name in the destination directory and renamed into place only after HDF5 closed it
/// and the bytes were synced, so a crash or error never leaves a half-written model behind and
/// never clobbers the previous file.
enum CheckpointWriter {
    static func write(_ checkpoint: Checkpoint, to path: String, dtype: StorageDType?) throws {
        func fail(_ reason: String) -> CheckpointError { .writeFailed(file: path, reason: reason) }
        let history: String
        do {
            try validate(checkpoint, dtype: dtype)
            history = try ProvenanceHistory.join(checkpoint.provenance)
        } catch let problem as Problem {
            throw fail(problem.reason)
        } catch let problem as ProvenanceHistory.Problem {
            throw fail("provenance \(problem.reason)")
        }

        let temporary = "\(path).\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        do {
            try writeFile(checkpoint, to: temporary, dtype: dtype, history: history)
            try sync(temporary)
            guard rename(temporary, path) == 0 else {
                throw Problem(reason: "cannot rename into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            switch error {
            case let failure as HDF5Failure: throw fail(failure.description)
            case let problem as H5ContentProblem: throw fail(problem.description)
            case let problem as Problem: throw fail(problem.reason)
            default: throw fail("\(error)")
            }
        }
    }

    private struct Problem: Error { let reason: String }

    private static func storage(of name: String, in checkpoint: Checkpoint, dtype: StorageDType?) -> StorageDType {
        dtype ?? checkpoint.storedDTypes[name] ?? .float32
    }

    /// Everything the reader would reject, caught before anything touches the disk.
    private static func validate(_ checkpoint: Checkpoint, dtype: StorageDType?) throws {
        let config = checkpoint.config
        if let problem = config.problem() { throw Problem(reason: "inconsistent config: \(problem)") }
        guard checkpoint.vocab.count == config.vocabSize else {
            throw Problem(reason: "vocab has \(checkpoint.vocab.count) entries but vocab_size is \(config.vocabSize)")
        }
        let expected = config.expectedTensors
        let expectedNames = Set(expected.map(\.name))
        if let extra = checkpoint.tensors.keys.sorted().first(where: { !expectedNames.contains($0) }) {
            throw Problem(reason: "tensor \(extra) is not part of the config")
        }
        for (name, shape) in expected {
            guard let tensor = checkpoint.tensors[name] else { throw Problem(reason: "tensor \(name) is missing") }
            guard tensor.shape == shape else {
                throw Problem(reason: "tensor \(name) has shape \(tensor.shape), expected \(shape)")
            }
            let half = storage(of: name, in: checkpoint, dtype: dtype) == .float16
            // Floats of magnitude 65520 and above round to infinity in float16.
            let limit: Float = half ? 65520 : .infinity
            let bad = tensor.data.withUnsafeBufferPointer { values in values.firstIndex { !(abs($0) < limit) } }
            if let bad {
                let value = tensor.data[bad]
                throw Problem(reason: value.isFinite ? "tensor \(name) value \(value) at flat index \(bad) overflows float16"
                                                     : "tensor \(name) holds \(value) at flat index \(bad)")
            }
        }
    }

    private static func writeFile(_ checkpoint: Checkpoint, to path: String, dtype: StorageDType?, history: String) throws {
        let file = try H5Handle.createFile(path)
        try file.writeAttribute("format", .string("pare-dlm"))
        try file.writeAttribute("format_version", .int(1))

        let config = try file.createGroup("/config")
        for (name, value) in checkpoint.config.attributes { try config.writeAttribute(name, value) }
        try config.close()

        let tokenizer = try file.createGroup("/tokenizer")
        try tokenizer.writeAttribute("kind", .string("char"))
        // An extension of the v1 layout: the vocabulary's strings sit in HDF5's unchecksummed global
        // heap, so a flipped bit there would silently change a token's text without this.
        try tokenizer.writeAttribute("vocab_crc32", .int(Int64(CRC32.vocabulary(checkpoint.vocab))))
        try tokenizer.close()
        try file.createStringDataset("/tokenizer/vocab", checkpoint.vocab)

        // expectedTensors order keeps each block's tensors together on disk for streaming reads.
        for (name, shape) in checkpoint.config.expectedTensors {
            guard let tensor = checkpoint.tensors[name] else { throw Problem(reason: "tensor \(name) is missing") }
            let scalar: H5Scalar = storage(of: name, in: checkpoint, dtype: dtype) == .float16 ? .float16 : .float32
            let dataset = try file.createDataset(Checkpoint.datasetPath(for: name), of: scalar, shape: shape)
            if scalar == .float16 {
                let halves = tensor.data.map { Float16($0).bitPattern }
                try halves.withUnsafeBytes { try dataset.write($0, as: .float16) }
            } else {
                try tensor.data.withUnsafeBytes { try dataset.write($0, as: .float32) }
            }
            try dataset.close()
        }

        let provenance = try file.createGroup("/provenance")
        try provenance.writeAttribute("history", .string(history))
        try provenance.close()
        try file.close()
    }

    /// Forces the file's bytes to disk before the rename makes it visible under its real name.
    private static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Problem(reason: "cannot reopen \(path) to sync it") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Problem(reason: "cannot sync: \(String(cString: strerror(errno)))") }
    }
}

extension Checkpoint {
    /// Writes this checkpoint as a pare-dlm file (temporary name, then rename into place).
    ///
    /// - Parameter dtype: storage precision for every tensor; nil keeps each tensor's
    ///   `storedDTypes` entry (float32 when it has none), so a model loaded from a float16 file is
    ///   written back as float16.
    public func save(to path: String, dtype: StorageDType? = nil) throws {
        try CheckpointWriter.write(self, to: path, dtype: dtype)
    }
}
