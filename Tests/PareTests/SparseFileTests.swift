import CHDF5
import Foundation
import Testing
@testable import Pare

/// Sparse-encoded block linears in model files (docs/format.md, "Sparse tensors"): every
/// encoding converts exactly both ways in every dtype, loads straight into sparse linears with
/// the dense file's logits, reads what numpy and scipy wrote, and every broken rule is one
/// `CheckpointError` naming the file and the tensor.
@Suite("Sparse files")
struct SparseFileTests {
    typealias F = CheckpointFixtures

    static let encodings: [TensorEncoding] = [.csr, .bitmask, .nOfM(n: 2, m: 4)]

    /// 12 and 100 inputs leave 4 unused bits in the last mask byte, and 100 spans two 64-bit
    /// mask words; both are whole groups of 4 for N:M.
    static let config = ModelConfig(vocabSize: CharTokenizer.referenceVocab.count, dModel: 12, nLayers: 2, nHeads: 2,
                                    nKVHeads: 1, dFF: 100, maxSeqLen: 32, maskTokenID: 1, eosTokenID: 0)

    /// How `prunedModel` zeroes the block linears.
    enum Pruning {
        /// About 70 % of each row at random; row 0 of every linear empty, row 1 full.
        case unstructured
        /// At most 2 of every 4 consecutive inputs kept: most groups keep 2, some 1, some none.
        case twoOfFour
    }

    /// A random model whose seven linears per block hold exact zeros where pruned.
    static func prunedModel(_ pruning: Pruning, seed: UInt64 = 3) -> LLaDAModel {
        var model = LLaDAModel.random(config: config, seed: seed, std: 0.3)
        var rng = F.RNG(seed: seed)
        for i in model.blocks.indices {
            for linear in BlockLinear.allCases {
                var w = model.blocks[i][linear].weight                       // [out, in]
                let cols = w.cols
                for r in 0..<w.rows {
                    switch pruning {
                    case .unstructured:
                        for c in 0..<cols where r == 0 || (r != 1 && Double.random(in: 0..<1, using: &rng) < 0.7) {
                            w.data[r * cols + c] = 0
                        }
                    case .twoOfFour:
                        for g in stride(from: 0, to: cols, by: 4) {
                            let keep = [2, 2, 2, 1, 0][Int.random(in: 0..<5, using: &rng)]
                            let kept = Array(0..<4).shuffled(using: &rng).prefix(keep)
                            for p in 0..<4 where !kept.contains(p) { w.data[r * cols + g + p] = 0 }
                        }
                    }
                }
                model.blocks[i][linear] = Linear(w)
            }
        }
        return model
    }

    static func pruning(for encoding: TensorEncoding) -> Pruning {
        if case .nOfM = encoding { return .twoOfFour }
        return .unstructured
    }

    /// `w` as a file in `dtype` holds it: narrowed, then widened back (exact).
    static func stored(_ w: Tensor, as dtype: StorageDType) -> Tensor {
        guard dtype != .float32 else { return w }
        let bfloat = dtype == .bfloat16
        return Tensor(shape: w.shape, data: HalfPrecision.widen(HalfPrecision.narrow(w.data, bfloat: bfloat), bfloat: bfloat))
    }

    static func write(_ model: LLaDAModel, to path: String, dtype: StorageDType = .float32,
                      encoding: TensorEncoding = .dense) throws {
        try ModelFile.write(model, vocab: CharTokenizer.referenceVocab, to: path, dtype: { _ in dtype },
                            linearEncoding: encoding, provenance: { [#"{"op":"test"}"#] })
    }

    /// max |a - b| <= tolerance * max |a|, over every logit.
    static func expectClose(_ a: Tensor, _ b: Tensor, tolerance: Float = 1e-5, _ label: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.shape == b.shape, "\(label)", sourceLocation: sourceLocation)
        let scale = a.data.map(abs).max() ?? 0
        let worst = zip(a.data, b.data).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= tolerance * scale, "\(label): max difference \(worst), largest logit \(scale)", sourceLocation: sourceLocation)
    }

    static let prompts = [[2, 3, 4, 5, 1, 1], [12, 13, 40, 1, 1]]

    // MARK: Exact round trips

    static let encodingsAndDTypes: [(TensorEncoding, StorageDType)] =
        encodings.flatMap { e in StorageDType.allCases.map { (e, $0) } }

    @Test(arguments: encodingsAndDTypes)
    func roundTripThroughAFileIsExact(_ encoding: TensorEncoding, _ dtype: StorageDType) throws {
        let model = Self.prunedModel(Self.pruning(for: encoding))
        let directory = try F.scratchDirectory()
        defer { F.cleanUp(directory) }
        let path = directory + "/sparse.h5"
        try Self.write(model, to: path, dtype: dtype, encoding: encoding)

        let reader = try CheckpointReader(path: path)
        #expect(reader.header.checksummed, "Pare's sparse groups are checksummed like its dense tensors")
        for (i, block) in model.blocks.enumerated() {
            for linear in BlockLinear.allCases {
                let key = linear.key(block: i)
                let info = try #require(reader.header.tensor(named: key))
                #expect(info.encoding == encoding && info.dtype == dtype && info.shape == block[linear].shape, "\(key)")
                let expected = Self.stored(block[linear].weight, as: dtype)
                guard case .sparse(let matrix) = try reader.linear(named: key).storage else {
                    Issue.record("\(key) did not load sparse")
                    continue
                }
                #expect(matrix == BitmaskMatrix(dense: expected), "\(key): mask or values differ")
                #expect(try reader.tensor(named: key) == expected, "\(key): densified values differ")
            }
        }
        #expect(reader.header.tensors.filter { !$0.encoding.isSparse }.count == 2 * Self.config.nLayers + 3,
                "norms, embedding and head stay dense")

        // The same model saved dense in the same dtype holds the same tensors and precisions.
        let dense = directory + "/dense.h5"
        try Self.write(model, to: dense, dtype: dtype)
        try StreamingTests.expectSameFile(path, dense)
        // And the sparse file written back dense is that file again.
        let again = directory + "/again.h5"
        try ModelFile.write(try ModelFile.open(path).weights, vocab: CharTokenizer.referenceVocab, to: again,
                            dtype: { _ in dtype }, provenance: { [#"{"op":"test"}"#] })
        try StreamingTests.expectSameFile(again, dense)
    }

    /// The conversions at every awkward width: empty and full rows, partial last mask bytes and
    /// words, zero rows. The packed bytes are checked against their definition.
    @Test func inMemoryConversionsAreExactAtEveryWidth() throws {
        var rng = F.RNG(seed: 17)
        for cols in [1, 4, 7, 8, 9, 12, 63, 64, 65, 128, 132] {
            for rows in [0, 1, 5] {
                var w = Tensor(zeros: [rows, cols])
                for r in 0..<rows where r != 0 {
                    for c in 0..<cols where r == 1 || Double.random(in: 0..<1, using: &rng) < 0.4 {
                        w.data[r * cols + c] = Float.random(in: -1...1, using: &rng)
                    }
                }
                let matrix = BitmaskMatrix(dense: w)
                let label = "[\(rows), \(cols)]"
                // CSR: the row pointers are rowStart.
                let csr = try BitmaskMatrix(rows: rows, cols: cols, indptr: matrix.rowStart, indices: matrix.columnIndices(),
                                            values: Array(matrix.keptValues))
                #expect(csr == matrix && csr.dense == w, "csr \(label)")
                // Bitmask: bit j of byte b in row r is column 8 b + j.
                let bytes = matrix.packedBitmask(), perRow = (cols + 7) / 8
                #expect(bytes.count == rows * perRow)
                for r in 0..<rows {
                    for c in 0..<(perRow * 8) {
                        let bit = bytes[r * perRow + c / 8] >> UInt8(c % 8) & 1 == 1
                        #expect(bit == (c < cols && w.data[r * cols + c] != 0), "bitmask \(label) bit [\(r), \(c)]")
                    }
                }
                let unpacked = try BitmaskMatrix(rows: rows, cols: cols, packedBitmask: bytes, values: Array(matrix.keptValues))
                #expect(unpacked == matrix, "bitmask \(label)")
            }
        }
    }

    @Test func nOfMPadsExactlyAndRefusesFullGroups() throws {
        // Row 0 keeps columns 1 and 3 (two of four), then column 6 only, then nothing; row 1
        // keeps three of its first four.
        var w = Tensor(zeros: [2, 12])
        for (r, c, v) in [(0, 1, 0.5), (0, 3, -2), (0, 6, 1.25), (1, 0, 1), (1, 1, 2), (1, 2, 3)] as [(Int, Int, Float)] {
            w.data[r * 12 + c] = v
        }
        let good = BitmaskMatrix(dense: Tensor(shape: [1, 12], data: Array(w.data[0..<12])))
        let parts = try good.nOfMParts(n: 2, m: 4)
        // Group 1 keeps position 2 and pads at its lowest unused position 0; group 2 pads at 0 and 1.
        #expect(parts.positions == [1, 3, 0, 2, 0, 1])
        #expect(parts.values == [0.5, -2, 0, 1.25, 0, 0])
        let back = try BitmaskMatrix(rows: 1, cols: 12, n: 2, m: 4, positions: parts.positions, values: parts.values)
        #expect(back == good)
        // Another writer's slot order (padding first, positions descending) reads the same.
        let reordered = try BitmaskMatrix(rows: 1, cols: 12, n: 2, m: 4, positions: [3, 1, 2, 3, 1, 3],
                                          values: [-2, 0.5, 1.25, 0, 0, 0])
        #expect(reordered == good)
        #expect(throws: SparseFormatError.self) { try BitmaskMatrix(dense: w).nOfMParts(n: 2, m: 4) }
        // A stored zero in CSR or bitmask values is a pruned weight, not a kept one.
        let withZero = try BitmaskMatrix(rows: 1, cols: 4, indptr: [0, 2], indices: [UInt16(0), 2], values: [0, 7])
        #expect(withZero == BitmaskMatrix(dense: Tensor(shape: [1, 4], data: [0, 0, 7, 0])))
    }

    // MARK: Loading sparse files

    @Test(arguments: [Residency.resident, .streamed])
    func sparseFilesLoadIntoSparseLinearsWithTheDenseLogits(_ residency: Residency) throws {
        let directory = try F.scratchDirectory()
        defer { F.cleanUp(directory) }
        for encoding in Self.encodings {
            let model = Self.prunedModel(Self.pruning(for: encoding))
            let densePath = directory + "/dense.h5", sparsePath = directory + "/\(encoding.storeName).h5"
            try Self.write(model, to: densePath)
            try Self.write(model, to: sparsePath, encoding: encoding)
            let dense = try ModelFile.open(densePath, residency: residency)
            let sparse = try ModelFile.open(sparsePath, residency: residency)
            #expect(sparse.isStreamed == (residency == .streamed))
            for i in 0..<Self.config.nLayers {
                let (denseBlock, sparseBlock) = (try dense.weights.block(i), try sparse.weights.block(i))
                for linear in BlockLinear.allCases {
                    #expect(sparseBlock[linear].isSparse && !denseBlock[linear].isSparse, "\(encoding) block \(i) \(linear)")
                    #expect(sparseBlock[linear].weight == denseBlock[linear].weight)
                }
            }
            Self.expectClose(try dense.weights.logits(Self.prompts), try sparse.weights.logits(Self.prompts), "\(encoding) \(residency)")
        }
    }

    /// numpy, scipy and h5py wrote these (Fixtures/sparse/make_sparse.py): h5py's defaults,
    /// scipy's int32 CSR arrays, N:M slots in another order than Pare's. Pare must read exactly
    /// the dense twin's tensors.
    @Test func numpyWrittenSparseFileReadsAsItsDenseTwin() throws {
        let sparsePath = Fixtures.path("sparse/tiny-gqa-2of4-sparse.h5"), densePath = Fixtures.path("sparse/tiny-gqa-2of4.h5")
        let header = try CheckpointReader.inspect(path: sparsePath)
        #expect(Set(header.blockLinears.map(\.encoding)) == [.csr, .bitmask, .nOfM(n: 2, m: 4)])
        #expect(header.blockLinears.count == 7 * header.config.nLayers)
        #expect(!header.checksummed, "h5py's defaults carry no checksums")
        let sparse = try Checkpoint.load(from: sparsePath), dense = try Checkpoint.load(from: densePath)
        #expect(sparse.tensors.count == dense.tensors.count)
        for (name, tensor) in dense.tensors { #expect(sparse.tensors[name] == tensor, "\(name)") }

        let model = try ModelFile.open(sparsePath, residency: .resident).weights
        for i in 0..<model.blockCount {
            #expect(try BlockLinear.allCases.allSatisfy { try model.block(i)[$0].isSparse })
        }
        Self.expectClose(try ModelFile.open(densePath).weights.logits(Self.prompts), try model.logits(Self.prompts), "numpy fixture")
    }

    // MARK: Corruption

    /// What a damaged file must fail with.
    enum Expected {
        /// `.badSparseTensor` whose reason contains the text.
        case sparse(String)
        case wrongShape([Int])
        case wrongDType
        /// `.corrupt` whose reason contains the text.
        case corrupt(String)
        case nonFinite([Int])

        func matches(_ error: CheckpointError?, tensor: String) -> Bool {
            switch (self, error) {
            case (.sparse(let text), .badSparseTensor(_, tensor, let reason)?): return reason.contains(text)
            case (.wrongShape(let expected), .wrongShape(_, tensor, let shape, _)?): return shape == expected
            case (.wrongDType, .wrongDType(_, tensor, _)?): return true
            case (.corrupt(let text), .corrupt(_, let object, let reason)?): return object.contains(tensor) && reason.contains(text)
            case (.nonFinite(let expected), .nonFinite(_, tensor, _, let index, _)?): return index == expected
            default: return false
            }
        }
    }

    /// One damage to one tensor's group of a Pare-written sparse file.
    struct Damage {
        let label: String
        let encoding: TensorEncoding
        /// A block linear of `F.config`: q_proj [8, 8], or ff_out [8, 12] whose mask rows end in
        /// a partial byte.
        var tensor = "model.transformer.blocks.1.q_proj.weight"
        let apply: (_ file: H5Handle, _ group: String) throws -> Void
        let expected: Expected
    }

    /// The checkpoint fixture pruned 2:4 (the first two of every four inputs kept), every block
    /// linear stored in `encoding`.
    static func sparseFixture(_ encoding: TensorEncoding) throws -> String {
        var model = try LLaDAModel(checkpoint: F.checkpoint())
        for i in model.blocks.indices {
            for linear in BlockLinear.allCases {
                var w = model.blocks[i][linear].weight
                for j in w.data.indices where (j % w.cols) % 4 >= 2 { w.data[j] = 0 }
                model.blocks[i][linear] = Linear(w)
            }
        }
        let path = try F.scratchDirectory() + "/sparse.h5"
        try ModelFile.write(model, vocab: F.checkpoint().vocab, to: path, dtype: { _ in .float32 }, linearEncoding: encoding,
                            provenance: { [] })
        return path
    }

    /// Replaces integer dataset `name` of `group` by `change` applied to its values.
    static func editIntegers(_ file: H5Handle, _ group: String, _ name: String, as scalar: H5Scalar = .int64,
                             _ change: (inout [Int64]) -> Void) throws {
        let dataset = try file.openDataset(group + "/" + name)
        var values = try dataset.readIntegers()
        let shape = try dataset.shape()
        try dataset.close()
        let count = values.count
        change(&values)
        // A one-dimensional dataset follows its new length; others keep their shape.
        try F.replaceDataset(file, group + "/" + name, scalar, shape: values.count == count ? shape : [values.count],
                             values: values.map(Double.init))
    }

    /// A deflate-compressed float32 dataset (Pare never writes one; h5py's compression="gzip" does).
    static func createCompressed(_ file: H5Handle, _ path: String, values: [Float]) throws {
        try HDF5.scoped(H5Screate_simple(1, [hsize_t(values.count)], nil), .dataspace, "creating a dataspace") { space in
            try HDF5.scoped(H5Pcreate(pare_H5P_DATASET_CREATE()), .propertyList, "creating a dataset list") { dcpl in
                try HDF5.check(H5Pset_chunk(dcpl, 1, [hsize_t(values.count)]), "setting chunks")
                try HDF5.check(H5Pset_deflate(dcpl, 6), "enabling deflate")
                try HDF5.scoped(H5Dcreate2(file.id, path, pare_H5T_IEEE_F32LE(), space, pare_H5P_DEFAULT(), dcpl, pare_H5P_DEFAULT()),
                                .dataset, "creating \(path)") { dataset in
                    try HDF5.check(H5Dwrite(dataset, pare_H5T_NATIVE_FLOAT(), pare_H5S_ALL(), pare_H5S_ALL(), pare_H5P_DEFAULT(), values),
                                   "writing \(path)")
                }
            }
        }
    }

    static func setString(_ file: H5Handle, _ group: String, _ attribute: String, _ value: String) throws {
        try file.openGroup(group).writeAttribute(attribute, .string(value))
    }

    static let groupDamages: [Damage] = [
        Damage(label: "unknown encoding", encoding: .csr, apply: { try setString($0, $1, "encoding-type", "coo_matrix") },
               expected: .sparse("unknown encoding-type \"coo_matrix\"")),
        Damage(label: "unknown version", encoding: .bitmask, apply: { try setString($0, $1, "encoding-version", "0.2.0") },
               expected: .sparse("encoding-version \"0.2.0\" is not supported")),
        Damage(label: "no encoding-type", encoding: .csr, apply: { try $0.openGroup($1).deleteAttribute("encoding-type") },
               expected: .sparse("no attribute encoding-type")),
        Damage(label: "no encoding-version", encoding: .csr, apply: { try $0.openGroup($1).deleteAttribute("encoding-version") },
               expected: .sparse("encoding-version is missing")),
        Damage(label: "shape disagrees with the config", encoding: .csr,
               apply: { try $0.openGroup($1).writeIntegerList("shape", [8, 9]) }, expected: .wrongShape([8, 9])),
        Damage(label: "shape of three numbers", encoding: .bitmask,
               apply: { try $0.openGroup($1).writeIntegerList("shape", [8, 8, 1]) }, expected: .sparse("has 3 entries")),
        Damage(label: "missing dataset", encoding: .csr, apply: { try $0.deleteLink($1 + "/indptr") },
               expected: .sparse("csr_matrix dataset indptr is missing")),
        Damage(label: "extra dataset", encoding: .nOfM(n: 2, m: 4),
               apply: { try F.replaceDataset($0, $1 + "/extra", .float32, shape: [1], values: [0]) },
               expected: .sparse("unexpected object extra")),
        Damage(label: "values of float64", encoding: .bitmask,
               apply: { try F.replaceDataset($0, $1 + "/values", .float64, shape: [32], values: Array(repeating: 1, count: 32)) },
               expected: .sparse("values is stored as float64")),
        Damage(label: "uint16 values without the bfloat16 marker", encoding: .csr,
               apply: { try F.replaceDataset($0, $1 + "/data", .uint16, shape: [32], values: Array(repeating: 1, count: 32)) },
               expected: .sparse("data is uint16 without the attribute dtype")),
        Damage(label: "declared and never written", encoding: .csr, apply: { file, group in
            // A file of a few KiB declaring 64 values it never stores: refused before any read.
            for name in ["data", "indices"] {
                try file.deleteLink(group + "/" + name)
                try file.createDataset(group + "/" + name, of: name == "data" ? .float32 : .int64, shape: [64]).close()
            }
            try editIntegers(file, group, "indptr") { $0 = (0...8).map { Int64($0 * 8) } }
        }, expected: .corrupt("data never written")),
        Damage(label: "compressed values", encoding: .bitmask, apply: { file, group in
            try file.deleteLink(group + "/values")
            try createCompressed(file, group + "/values", values: Array(repeating: 1, count: 32))
        }, expected: .sparse("values is compressed")),
        Damage(label: "more entries than weights", encoding: .bitmask,
               apply: { try F.replaceDataset($0, $1 + "/values", .float32, shape: [65], values: Array(repeating: 1, count: 65)) },
               expected: .sparse("values holds 65 entries, more than the 64 weights")),
    ]

    static let csrDamages: [Damage] = [
        Damage(label: "indptr of the wrong length", encoding: .csr,
               apply: { try editIntegers($0, $1, "indptr") { $0.removeLast() } }, expected: .sparse("indptr has shape [8], expected [9]")),
        Damage(label: "data and indices of different lengths", encoding: .csr,
               apply: { try F.replaceDataset($0, $1 + "/data", .float32, shape: [31], values: Array(repeating: 1, count: 31)) },
               expected: .sparse("data has shape [31], expected [32]")),
        Damage(label: "indices not integers", encoding: .csr,
               apply: { try F.replaceDataset($0, $1 + "/indices", .float32, shape: [32], values: Array(repeating: 1, count: 32)) },
               expected: .sparse("indices is stored as float32, expected integers")),
        Damage(label: "index out of range", encoding: .csr,
               apply: { try editIntegers($0, $1, "indices", as: .uint16) { $0[3] = 8 } }, expected: .sparse("is outside 0..<8")),
        Damage(label: "indices unsorted in a row", encoding: .csr,
               apply: { try editIntegers($0, $1, "indices") { $0.swapAt(4, 5) } }, expected: .sparse("do not strictly increase")),
        Damage(label: "an index repeated in a row", encoding: .csr,
               apply: { try editIntegers($0, $1, "indices", as: .int32) { $0[5] = $0[4] } }, expected: .sparse("do not strictly increase")),
        Damage(label: "indptr not starting at 0", encoding: .csr,
               apply: { try editIntegers($0, $1, "indptr") { $0[0] = 1 } }, expected: .sparse("indptr[0] is 1, expected 0")),
        Damage(label: "indptr decreasing", encoding: .csr,
               apply: { try editIntegers($0, $1, "indptr") { $0[3] = 20 } }, expected: .sparse("indptr decreases at row 3")),
        Damage(label: "indptr not ending at the number of values", encoding: .csr,
               apply: { try editIntegers($0, $1, "indptr") { $0[8] = 30; $0[7] = 28 } },
               expected: .sparse("indptr[8] is 30 but indices holds 32 entries")),
    ]

    static let bitmaskDamages: [Damage] = [
        Damage(label: "more bits than values", encoding: .bitmask,
               apply: { try F.replaceDataset($0, $1 + "/values", .float32, shape: [31], values: Array(repeating: 1, count: 31)) },
               expected: .sparse("bitmask keeps 32 weights but values holds 31")),
        Damage(label: "bits past the last column", encoding: .bitmask, tensor: "model.transformer.blocks.0.ff_out.weight",
               apply: { try editIntegers($0, $1, "bitmask", as: .uint8) { $0[3] |= 1 << 5 } },  // row 1, column 13 of 12
               expected: .sparse("bitmask row 1 sets bits past column 11")),
        Damage(label: "mask of int32", encoding: .bitmask, apply: { try editIntegers($0, $1, "bitmask", as: .int32) { _ in } },
               expected: .sparse("bitmask is stored as int32, expected uint8")),
        Damage(label: "mask of the wrong width", encoding: .bitmask,
               apply: { try F.replaceDataset($0, $1 + "/bitmask", .uint8, shape: [8, 2], values: Array(repeating: 3, count: 16)) },
               expected: .sparse("bitmask has shape [8, 2], expected [8, 1]")),
    ]

    static let nOfMDamages: [Damage] = [
        Damage(label: "position not below m", encoding: .nOfM(n: 2, m: 4),
               apply: { try editIntegers($0, $1, "indices", as: .uint8) { $0[5] = 4 } }, expected: .sparse("= 4 is not below m = 4")),
        Damage(label: "position repeated in a group", encoding: .nOfM(n: 2, m: 4),
               apply: { try editIntegers($0, $1, "indices", as: .uint8) { $0[7] = $0[6] } }, expected: .sparse("twice in group 1")),
        Damage(label: "m not dividing the inputs", encoding: .nOfM(n: 2, m: 4),
               apply: { try $0.openGroup($1).writeAttribute("m", .int(3)) }, expected: .sparse("8 columns are not whole groups of m = 3")),
        Damage(label: "n above m", encoding: .nOfM(n: 2, m: 4),
               apply: { try $0.openGroup($1).writeAttribute("n", .int(5)) }, expected: .sparse("n = 5, m = 4 are not 1 <= n <= m <= 256")),
        Damage(label: "n missing", encoding: .nOfM(n: 2, m: 4),
               apply: { try $0.openGroup($1).deleteAttribute("n") }, expected: .sparse("attribute n is missing")),
        Damage(label: "values of another shape", encoding: .nOfM(n: 2, m: 4),
               apply: { try F.replaceDataset($0, $1 + "/values", .float32, shape: [8, 3], values: Array(repeating: 1, count: 24)) },
               expected: .sparse("values has shape [8, 3], expected [8, 4]")),
        Damage(label: "positions of int32", encoding: .nOfM(n: 2, m: 4),
               apply: { try editIntegers($0, $1, "indices", as: .int32) { _ in } }, expected: .sparse("indices is stored as int32, expected uint8")),
    ]

    /// Each damage to a fresh file; the whole load (header and every value) must fail as expected.
    static func check(_ damages: [Damage]) throws {
        for damage in damages {
            let path = try sparseFixture(damage.encoding)
            let file = try H5Handle.openFile(path, writable: true)
            try damage.apply(file, Checkpoint.datasetPath(for: damage.tensor))
            try file.close()
            let error = F.loadError(path)
            #expect(damage.expected.matches(error, tensor: damage.tensor), "\(damage.label): got \(String(describing: error))")
            #expect(error?.description.hasPrefix(path + ": ") ?? false, "\(damage.label): the message names the file")
        }
    }

    @Test func damagedGroupsGiveOneClearError() throws { try Self.check(Self.groupDamages) }
    @Test func damagedCSRGivesOneClearError() throws { try Self.check(Self.csrDamages) }
    @Test func damagedBitmaskGivesOneClearError() throws { try Self.check(Self.bitmaskDamages) }
    @Test func damagedNOfMGivesOneClearError() throws { try Self.check(Self.nOfMDamages) }

    @Test func nonFiniteSparseValueIsReportedAtItsDensePosition() throws {
        // q_proj keeps columns 0, 1, 4, 5 of every row, so stored value 6 is [1, 4].
        for encoding in Self.encodings {
            let valuesName = encoding == .csr ? "data" : "values"
            try Self.check([Damage(label: "NaN in \(encoding)", encoding: encoding, apply: { file, group in
                let dataset = try file.openDataset(group + "/" + valuesName)
                var values = try dataset.readFloats().map(Double.init)
                let shape = try dataset.shape()
                try dataset.close()
                values[6] = .nan
                try F.replaceDataset(file, group + "/" + valuesName, .float32, shape: shape, values: values)
            }, expected: .nonFinite([1, 4]))])
        }
        let path = try Self.sparseFixture(.csr)
        let file = try H5Handle.openFile(path, writable: true)
        try Self.editIntegers(file, Checkpoint.datasetPath(for: "model.transformer.blocks.0.q_proj.weight"), "indptr") { $0[2] = 9 }
        try file.close()
        guard case .badSparseTensor(_, "model.transformer.blocks.0.q_proj.weight", let reason)? = F.loadError(path) else {
            Issue.record("indptr"); return
        }
        #expect(reason.contains("indices of row 1 do not strictly increase"), "\(reason)")
    }

    @Test func errorMessageNamesFileAndTensor() throws {
        let path = try Self.sparseFixture(.csr)
        let name = "model.transformer.blocks.1.q_proj.weight"
        let file = try H5Handle.openFile(path, writable: true)
        try Self.setString(file, Checkpoint.datasetPath(for: name), "encoding-type", "coo_matrix")
        try file.close()
        #expect(F.loadError(path)?.description
                == "\(path): sparse tensor \(name) is invalid: unknown encoding-type \"coo_matrix\" (Pare reads csr_matrix, bitmask and n_of_m)")
    }

    /// Only block linears may be groups; a streamed load meets bad structure when the block is read.
    @Test func groupsElsewhereAndStreamedStructureErrors() throws {
        let normPath = try Self.sparseFixture(.bitmask)
        let norm = "model.transformer.ln_f.weight"
        let file = try H5Handle.openFile(normPath, writable: true)
        try file.deleteLink(Checkpoint.datasetPath(for: norm))
        try file.createGroup(Checkpoint.datasetPath(for: norm)).close()
        try file.close()
        guard case .wrongDType(_, norm, "a group or link, not a dataset")? = F.loadError(normPath) else {
            Issue.record("ln_f as a group"); return
        }

        let path = try Self.sparseFixture(.csr)
        defer { F.cleanUp(path) }
        let name = "model.transformer.blocks.1.q_proj.weight"
        let damaged = try H5Handle.openFile(path, writable: true)
        try Self.editIntegers(damaged, Checkpoint.datasetPath(for: name), "indices") { $0.swapAt(0, 1) }
        try damaged.close()
        let streamed = try ModelFile.open(path, residency: .streamed)  // the header is sound
        #expect(try streamed.weights.block(0)[.qProj].isSparse)
        #expect(throws: CheckpointError.self) { try streamed.weights.block(1) }
        do {
            _ = try streamed.weights.block(1)
        } catch CheckpointError.badSparseTensor(_, let tensor, _) {
            #expect(tensor == name)
        }
    }

    /// Damaged copies of a sparse file (random truncations and bit flips, as in
    /// CheckpointFuzzTests) load exactly or fail with one `CheckpointError`; never a crash or trap.
    @Test(arguments: encodings)
    func damagedSparseFilesFailCleanly(_ encoding: TensorEncoding) throws {
        let path = try Self.sparseFixture(encoding)
        defer { F.cleanUp(path) }
        let reference = try Checkpoint.load(from: path)
        let cases = 200  // about 1 ms each; 6000 per encoding passed when this test was written
        let seed: UInt64 = encoding == .csr ? 11 : encoding == .bitmask ? 12 : 13
        let (failures, _) = try CheckpointFuzzTests.loadDamagedCopies(of: path, count: cases, seed: seed) { loaded, index, damage in
            #expect(loaded.tensors == reference.tensors, "case \(index): \(damage) changed weights silently")
        }
        #expect(failures >= cases / 2, "every truncation must fail")
    }

    /// Writing refuses what the encodings cannot hold, before anything reaches the destination.
    @Test func writerRefusesWhatAnEncodingCannotHold() throws {
        let directory = try F.scratchDirectory()
        defer { F.cleanUp(directory) }
        let path = directory + "/out.h5"
        let unstructured = Self.prunedModel(.unstructured)
        #expect(throws: CheckpointError.self) { try Self.write(unstructured, to: path, encoding: .nOfM(n: 2, m: 4)) }
        let writer = try ModelWriter(path: path, config: Self.config, vocab: CharTokenizer.referenceVocab) { _ in .float32 }
        #expect(throws: CheckpointError.self) {
            try writer.write(GlobalTensor.head.key, Linear(unstructured.head.weight), encoding: .bitmask)
        }
        writer.abandon()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty, "nothing left behind")
    }

    /// More than 65536 inputs: CSR column indices are stored as int32 instead of uint16.
    @Test func wideLinearsStoreInt32ColumnIndices() throws {
        let wide = ModelConfig(vocabSize: CharTokenizer.referenceVocab.count, dModel: 4, nLayers: 1, nHeads: 2, nKVHeads: 1,
                               dFF: 65_540, maxSeqLen: 8, maskTokenID: 1, eosTokenID: 0)
        var model = LLaDAModel.random(config: wide, seed: 5)
        var w = model.blocks[0].ffOut.weight                                    // [4, 65540]
        for j in w.data.indices where j % 3 != 0 { w.data[j] = 0 }
        model.blocks[0].ffOut = Linear(w)
        let directory = try F.scratchDirectory()
        defer { F.cleanUp(directory) }
        let path = directory + "/wide.h5"
        try ModelFile.write(model, vocab: CharTokenizer.referenceVocab, to: path, dtype: { _ in .float32 }, linearEncoding: .csr,
                            provenance: { [] })
        let file = try H5Handle.openFile(path)
        let key = BlockLinear.ffOut.key(block: 0)
        #expect(try file.openDataset(Checkpoint.datasetPath(for: key) + "/indices").storedElement() == .scalar(.int32))
        #expect(try file.openDataset(Checkpoint.datasetPath(for: BlockLinear.qProj.key(block: 0)) + "/indices").storedElement()
                == .scalar(.uint16))
        try file.close()
        #expect(try CheckpointReader(path: path).tensor(named: key) == w)
    }
}

/// `pare prune --store` and `pare export` end to end, through the built `pare` executable.
@Suite("Sparse files: command line")
struct SparseCommandLineTests {
    typealias F = CheckpointFixtures

    /// The `pare` executable `swift test` builds next to the test bundle.
    static var executable: URL? {
        let candidates = [Bundle.main.executableURL?.deletingLastPathComponent(), Bundle.main.bundleURL,
                          Bundle.main.bundleURL.deletingLastPathComponent()].compactMap { $0 }
        return candidates.map { $0.appendingPathComponent("pare") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Runs `pare` with `arguments`; exit status, stdout and stderr.
    static func pare(_ arguments: [String], in directory: String) throws -> (status: Int32, out: String, err: String) {
        let binary = try #require(executable, "the pare executable is not next to the test bundle")
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        // Output goes through files: a pipe left unread could fill and block the child.
        let outURL = URL(fileURLWithPath: directory + "/.stdout"), errURL = URL(fileURLWithPath: directory + "/.stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        process.waitUntilExit()
        let out = try String(contentsOf: outURL, encoding: .utf8), err = try String(contentsOf: errURL, encoding: .utf8)
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
        return (process.terminationStatus, out, err)
    }

    /// The model files in `directory` (temporary files would show up here too).
    static func files(_ directory: String) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: directory).filter { !$0.hasPrefix(".") })
    }

    @Test func pruneStoresSparseAndRefusesBadOptions() throws {
        let directory = try F.scratchDirectory()
        defer { F.cleanUp(directory) }
        // A float16 model: pruning must keep the value dtype in every encoding.
        try SparseFileTests.write(LLaDAModel.random(config: SparseFileTests.config, seed: 9), to: directory + "/m.h5", dtype: .float16)
        let common = ["prune", "--model", "m.h5", "--method", "magnitude", "--calibration-samples", "4"]

        for (store, pattern, expected) in [("bitmask", ["--sparsity", "0.7"], TensorEncoding.bitmask),
                                           ("csr", ["--sparsity", "0.7"], .csr),
                                           ("nm", ["--pattern", "2:4"], .nOfM(n: 2, m: 4))] {
            let run = try Self.pare(common + pattern + ["--store", store, "--output", "\(store).h5", "--json"], in: directory)
            #expect(run.status == 0, "prune --store \(store): \(run.err)")
            let header = try CheckpointReader.inspect(path: directory + "/\(store).h5")
            #expect(header.blockLinears.allSatisfy { $0.encoding == expected && $0.dtype == .float16 }, "\(store)")
            #expect(header.provenance.last?.contains(#""store":"\#(store)""#) ?? false)
            #expect(run.out.contains(#""store":"\#(store)""#))
        }
        let before = try Self.files(directory)
        let noPattern = try Self.pare(common + ["--sparsity", "0.5", "--store", "nm", "--output", "x.h5"], in: directory)
        #expect(noPattern.status == 64 && noPattern.err.contains("--store nm needs --pattern N:M"), "\(noPattern)")
        let badStore = try Self.pare(common + ["--sparsity", "0.5", "--store", "diagonal", "--output", "x.h5"], in: directory)
        #expect(badStore.status == 64 && badStore.err.contains("--store"), "\(badStore)")
        #expect(try Self.files(directory) == before, "nothing written on failure")
    }

    @Test func exportWritesSparseAndRefusesWhatItCannot() throws {
        let directory = try F.scratchDirectory()
        defer { F.cleanUp(directory) }
        let model = SparseFileTests.prunedModel(.unstructured)
        try SparseFileTests.write(model, to: directory + "/pruned.h5", dtype: .bfloat16)

        let export = try Self.pare(["export", "pruned.h5", "--format", "sparse-h5", "--output", "sparse.h5"], in: directory)
        #expect(export.status == 0, "\(export.err)")
        let header = try CheckpointReader.inspect(path: directory + "/sparse.h5")
        #expect(header.blockLinears.allSatisfy { $0.encoding == .bitmask && $0.dtype == .bfloat16 }, "bitmask by default, dtype kept")
        #expect(header.provenance.last?.contains(#""op":"export""#) ?? false)
        try StreamingTests.expectSameFileTensors(directory + "/sparse.h5", directory + "/pruned.h5")

        let csr = try Self.pare(["export", "--model", "pruned.h5", "--format", "sparse-h5", "--store", "csr", "--output", "csr.h5"],
                                in: directory)
        #expect(csr.status == 0, "\(csr.err)")
        #expect(try CheckpointReader.inspect(path: directory + "/csr.h5").blockLinears.allSatisfy { $0.encoding == .csr })

        let inspect = try Self.pare(["inspect", "--model", "sparse.h5", "--json"], in: directory)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(inspect.out.utf8)) as? [String: Any])
        let linears = try #require(json["block_linears"] as? [String: Any])
        #expect(linears["encodings"] as? [String: Int] == ["bitmask": 7 * SparseFileTests.config.nLayers])
        #expect((json["sparse_tensors"] as? [Any])?.count == 7 * SparseFileTests.config.nLayers)
        #expect((json["file_bytes"] as? Int ?? 0) > 0 && json["sparsity"] != nil, "existing fields stay")

        let before = try Self.files(directory)
        let hf = try Self.pare(["export", "pruned.h5", "--format", "hf", "--output", "hf", "--like", "no-such-folder"], in: directory)
        #expect(hf.status == 1 && hf.err.hasPrefix("error: no-such-folder/config.json: cannot read"), "\(hf)")
        let notNOfM = try Self.pare(["export", "pruned.h5", "--format", "sparse-h5", "--store", "nm", "--pattern", "2:4",
                                     "--output", "nm.h5"], in: directory)
        #expect(notNOfM.status == 1 && notNOfM.err.contains("cannot be stored as 2 of 4"), "\(notNOfM)")
        let noPattern = try Self.pare(["export", "pruned.h5", "--format", "sparse-h5", "--store", "nm", "--output", "nm.h5"],
                                      in: directory)
        #expect(noPattern.status == 64, "\(noPattern)")
        let noFormat = try Self.pare(["export", "pruned.h5", "--output", "x.h5"], in: directory)
        #expect(noFormat.status == 64, "\(noFormat)")
        #expect(try Self.files(directory) == before, "nothing written on failure")
    }
}

extension StreamingTests {
    /// Two files hold equal tensors (values after widening and densifying), whatever their
    /// encodings and provenance.
    static func expectSameFileTensors(_ a: String, _ b: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let x = try CheckpointReader.read(path: a), y = try CheckpointReader.read(path: b)
        #expect(x.config == y.config && x.storedDTypes == y.storedDTypes, sourceLocation: sourceLocation)
        #expect(x.tensors.count == y.tensors.count, sourceLocation: sourceLocation)
        for (name, t) in x.tensors { #expect(y.tensors[name] == t, "\(name) differs", sourceLocation: sourceLocation) }
    }
}
