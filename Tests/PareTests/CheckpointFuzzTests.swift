import CHDF5
import Foundation
import Testing
@testable import Pare

/// Damaged copies of a small model file must load cleanly or fail with a `CheckpointError`;
/// never crash, hang or trap. A copy that loads must be exactly the original model: checksums
/// (HDF5 metadata, Fletcher-32 on tensors, CRC-32 on the vocabulary) leave no silent damage.
@Suite("Checkpoint fuzz")
struct CheckpointFuzzTests {
    typealias F = CheckpointFixtures

    enum Damage: CustomStringConvertible {
        case truncated(length: Int)
        case flipped([(offset: Int, bit: Int)])

        var description: String {
            switch self {
            case .truncated(let length): return "truncated to \(length) bytes"
            case .flipped(let flips): return "bits flipped at " + flips.map { "\($0.offset):\($0.bit)" }.joined(separator: ", ")
            }
        }

        func apply(to original: [UInt8]) -> [UInt8] {
            switch self {
            case .truncated(let length):
                return Array(original.prefix(length))
            case .flipped(let flips):
                var bytes = original
                for (offset, bit) in flips { bytes[offset] ^= UInt8(1 << bit) }
                return bytes
            }
        }
    }

    /// Half truncations at random lengths, half 1-8 random bit flips, from a fixed seed.
    static func damages(count: Int, fileSize: Int, seed: UInt64) -> [Damage] {
        var rng = F.RNG(seed: seed)
        return (0..<count).map { index in
            if index % 2 == 0 { return .truncated(length: Int.random(in: 0..<fileSize, using: &rng)) }
            return .flipped((0..<Int.random(in: 1...8, using: &rng)).map { _ in
                (Int.random(in: 0..<fileSize, using: &rng), Int.random(in: 0..<8, using: &rng))
            })
        }
    }

    /// Loads `count` damaged copies of the file at `path` (from `damages`). A copy that fails
    /// must fail with one `CheckpointError` line naming the copy; a copy that loads is handed to
    /// `intact` with its case index and damage. Returns how many failed and how many loaded.
    static func loadDamagedCopies(of path: String, count: Int, seed: UInt64,
                                  intact: (Checkpoint, Int, Damage) -> Void) throws -> (failures: Int, intact: Int) {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var failures = 0, loaded = 0
        for (index, damage) in damages(count: count, fileSize: original.count, seed: seed).enumerated() {
            let copy = directory + "/case-\(index).h5"
            try Data(damage.apply(to: original)).write(to: URL(fileURLWithPath: copy))
            defer { try? FileManager.default.removeItem(atPath: copy) }
            do {
                let checkpoint = try Checkpoint.load(from: copy)
                loaded += 1
                intact(checkpoint, index, damage)
            } catch let error as CheckpointError {
                failures += 1
                #expect(error.description.hasPrefix(copy + ": ") && !error.description.contains("\n"))
            } catch {
                Issue.record("case \(index): \(damage) threw \(error), not a CheckpointError")
            }
        }
        return (failures, loaded)
    }

    @Test(arguments: [StorageDType.float32, .float16])
    func damagedFilesFailCleanly(_ dtype: StorageDType) throws {
        let config = ModelConfig(vocabSize: 12, dModel: 8, nLayers: 1, nHeads: 2, nKVHeads: 1, dFF: 8,
                                 maxSeqLen: 16, maskTokenID: 10, eosTokenID: 11)
        var model = F.checkpoint(config, seed: 11)
        model.vocab[0] = "é"
        let path = try F.savedModel(model, dtype: dtype)
        defer { F.cleanUp(path) }
        let reference = try Checkpoint.load(from: path)
        let (failures, intact) = try Self.loadDamagedCopies(of: path, count: 120, seed: dtype == .float32 ? 1 : 2) { loaded, index, damage in
            #expect(loaded.config == reference.config && loaded.vocab == reference.vocab
                    && loaded.provenance == reference.provenance, "case \(index): \(damage)")
            #expect(loaded.tensors == reference.tensors, "case \(index): \(damage) changed weights silently")
        }
        #expect(failures + intact == 120)
        #expect(failures > 60, "every truncation must fail")
    }

    // MARK: Sparse files

    /// The byte ranges of the stored chunks of every dataset in the sparse groups of `names`:
    /// where the structure (indices, masks, positions) and the kept values sit. A random flip
    /// rarely lands there in a file that is mostly dense tensors and metadata.
    static func sparseChunkRanges(_ path: String, names: [String]) throws -> [Range<Int>] {
        let file = try H5Handle.openFile(path)
        defer { try? file.close() }
        var ranges: [Range<Int>] = []
        for name in names {
            let group = Checkpoint.datasetPath(for: name)
            for child in try file.openGroup(group).childNames() {
                let dataset = try file.openDataset(group + "/" + child)
                defer { try? dataset.close() }
                let contiguous = H5Dget_offset(dataset.id)  // HADDR_UNDEF (all ones) when chunked
                if contiguous != haddr_t.max {
                    ranges.append(Int(contiguous)..<(Int(contiguous) + Int(H5Dget_storage_size(dataset.id))))
                    continue
                }
                try HDF5.scoped(H5Dget_space(dataset.id), .dataspace, "reading a dataspace") { space in
                    var chunks: hsize_t = 0
                    try HDF5.check(H5Dget_num_chunks(dataset.id, space, &chunks), "counting chunks")
                    for k in 0..<chunks {
                        var offset = [hsize_t](repeating: 0, count: 2), mask: UInt32 = 0
                        var address: haddr_t = 0, size: hsize_t = 0
                        try HDF5.check(H5Dget_chunk_info(dataset.id, space, k, &offset, &mask, &address, &size), "locating a chunk")
                        ranges.append(Int(address)..<(Int(address) + Int(size)))
                    }
                }
            }
        }
        return ranges
    }

    /// A model whose block linears keep about `keep` of their weights (at random), stored in
    /// `encoding`; N:M keeps at most 2 of every 4 inputs.
    static func sparseModelFile(_ encoding: TensorEncoding, keep: Double, seed: UInt64) throws -> String {
        let config = ModelConfig(vocabSize: CharTokenizer.referenceVocab.count, dModel: 8, nLayers: 1, nHeads: 2,
                                 nKVHeads: 1, dFF: 72, maxSeqLen: 16, maskTokenID: 1, eosTokenID: 0)
        var model = LLaDAModel.random(config: config, seed: seed, std: 0.3)
        var rng = F.RNG(seed: seed)
        for linear in BlockLinear.allCases {
            var w = model.blocks[0][linear].weight                       // [out, in]
            for j in w.data.indices {
                let pruned: Bool
                if case .nOfM = encoding { pruned = j % 4 >= 2 || Bool.random(using: &rng) } else {
                    pruned = Double.random(in: 0..<1, using: &rng) >= keep
                }
                if pruned { w.data[j] = 0 }
            }
            model.blocks[0][linear] = Linear(w)
        }
        let path = try F.scratchDirectory() + "/sparse.h5"
        try ModelFile.write(model, vocab: CharTokenizer.referenceVocab, to: path, dtype: { _ in .float32 },
                            linearEncoding: encoding, provenance: { [] })
        return path
    }

    /// Rewrites every dataset of the sparse groups of `names` without Fletcher-32, as h5py
    /// writes by default: a flip in an index then reaches Pare's structure checks.
    static func removeChecksums(_ path: String, names: [String]) throws {
        let file = try H5Handle.openFile(path, writable: true)
        for name in names {
            let group = Checkpoint.datasetPath(for: name)
            for child in try file.openGroup(group).childNames() {
                let dataset = try file.openDataset(group + "/" + child)
                let shape = try dataset.shape(), stored = try dataset.storedElement()
                let values = stored == .scalar(.float32) ? try dataset.readFloats().map(Double.init) : try dataset.readIntegers().map(Double.init)
                try dataset.close()
                guard case .scalar(let scalar) = stored else { throw H5ContentProblem("\(child) is not a number") }
                try F.replaceDataset(file, group + "/" + child, scalar, shape: shape, values: values)
            }
        }
        try file.close()
    }

    /// Damaged copies of sparse files: random damage as above and 1-8 bit flips inside the
    /// sparse groups' chunks, in the file as Pare writes it (Fletcher-32 on every chunk) and in
    /// the same file without checksums (as h5py writes), where the flips reach the indices.
    /// Each copy fails with one `CheckpointError` line, or loads:
    /// - checksummed: exactly the original, as a checkpoint and resident into sparse linears
    ///   (the same logits through the sparse kernels);
    /// - unchecksummed (flipped values or indices may be a valid other matrix): the same matrix
    ///   as a checkpoint, resident and streamed, and the sparse kernels give the logits of its
    ///   dense copy.
    /// The bitmask keeps 8 % of its weights, so it carries the column index the kernels use for
    /// very sparse matrices.
    @Test(arguments: [(TensorEncoding.bitmask, 0.08), (.csr, 0.3), (.nOfM(n: 2, m: 4), 0.5)])
    func damagedSparseGroupsFailCleanly(_ encoding: TensorEncoding, keep: Double) throws {
        let path = try Self.sparseModelFile(encoding, keep: keep, seed: 21)
        defer { F.cleanUp(path) }
        let reference = try Checkpoint.load(from: path)
        let resident = try ModelFile.open(path, residency: .resident).weights
        guard case .sparse(let matrix) = try resident.block(0)[.qProj].storage else {
            Issue.record("\(encoding) did not load sparse"); return
        }
        #expect(matrix.columns.isEmpty == (encoding != .bitmask), "only the very sparse bitmask carries the column index")
        let prompt = [[2, 3, 4, 1, 1]]
        let logits = try resident.logits(prompt)
        let names = BlockLinear.allCases.map { $0.key(block: 0) }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let unchecked = directory + "/unchecked.h5"
        try FileManager.default.copyItem(atPath: path, toPath: unchecked)
        try Self.removeChecksums(unchecked, names: names)

        /// Flips inside the sparse chunks of the file at `file`.
        func chunkFlips(_ file: String, count: Int, seed: UInt64) throws -> [Damage] {
            let chunks = try Self.sparseChunkRanges(file, names: names)
            #expect(chunks.count >= 2 * names.count)
            var rng = F.RNG(seed: seed)
            return (0..<count).map { _ in
                let chunk = chunks.randomElement(using: &rng)!
                return .flipped((0..<Int.random(in: 1...8, using: &rng)).map { _ in
                    (Int.random(in: chunk, using: &rng), Int.random(in: 0..<8, using: &rng))
                })
            }
        }
        let checkedOriginal = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let uncheckedOriginal = [UInt8](try Data(contentsOf: URL(fileURLWithPath: unchecked)))
        let cases: [(checksummed: Bool, damage: Damage)] =
            (Self.damages(count: 24, fileSize: checkedOriginal.count, seed: 6) + (try chunkFlips(path, count: 24, seed: 5))).map { (true, $0) }
            + (try chunkFlips(unchecked, count: 32, seed: 7)).map { (false, $0) }
        var failures = (checked: 0, unchecked: 0)
        for (index, (checksummed, damage)) in cases.enumerated() {
            let copy = directory + "/case-\(index).h5"
            try Data(damage.apply(to: checksummed ? checkedOriginal : uncheckedOriginal)).write(to: URL(fileURLWithPath: copy))
            defer { try? FileManager.default.removeItem(atPath: copy) }
            do {
                let loaded = try Checkpoint.load(from: copy)
                let model = try ModelFile.open(copy, residency: .resident).weights
                let block = try model.block(0), copyLogits = try model.logits(prompt)
                #expect(BlockLinear.allCases.allSatisfy { block[$0].isSparse && block[$0].weight == loaded.tensors[$0.key(block: 0)] },
                        "case \(index): \(damage): the sparse linears are not the checkpoint's tensors")
                if checksummed {
                    #expect(loaded.tensors == reference.tensors && copyLogits == logits, "case \(index): \(damage) changed the model")
                } else {
                    let streamed = try ModelFile.open(copy, residency: .streamed).weights.block(0)
                    #expect(BlockLinear.allCases.allSatisfy { streamed[$0].weight == block[$0].weight }, "case \(index): \(damage)")
                    let dense = try LLaDAModel(checkpoint: loaded).logits(prompt)
                    let scale = dense.data.map(abs).max() ?? 0
                    let worst = zip(dense.data, copyLogits.data).map { abs($0 - $1) }.max() ?? 0
                    #expect(worst <= 1e-5 * scale || !dense.data.allSatisfy(\.isFinite), "case \(index): \(damage): sparse kernels off by \(worst)")
                }
            } catch let error as CheckpointError {
                if checksummed { failures.checked += 1 } else { failures.unchecked += 1 }
                #expect(error.description.hasPrefix(copy + ": ") && !error.description.contains("\n"), "case \(index): \(error)")
            } catch {
                Issue.record("case \(index): \(damage) threw \(error), not a CheckpointError")
            }
        }
        #expect(failures.checked >= 12 + 21, "every truncation and nearly every flip in a checksummed chunk must fail")
        #expect(failures.unchecked >= 8, "flipped indices must be refused")
    }
}
