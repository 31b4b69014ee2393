import Foundation
import Testing
@testable import Pare

/// Pruners against the independent numpy Wanda reference (Fixtures/wanda) and the
/// structural guarantees of docs/algorithms.md §4.
@Suite struct PruningTests {
    struct WandaReference: Decodable {
        struct Case: Decodable {
            let pattern: String; let sparsity: Double
            let masks: [String: [String]]; let scaler_row: [String: [Double]]
        }
        let cases: [Case]
    }

    static let reference: WandaReference = {
        let data = FileManager.default.contents(atPath: Fixtures.path("wanda/wanda-reference.json"))!
        return try! JSONDecoder().decode(WandaReference.self, from: data)
    }()

    static func tinyModel() throws -> (Checkpoint, LLaDAModel) {
        let c = try Checkpoint.load(from: Fixtures.path("reference/tiny-gqa.h5"))
        return (c, try LLaDAModel(checkpoint: c))
    }

    static func calibration(_ ckpt: Checkpoint, maskRatio: Double = 0) throws -> CalibrationSet {
        try CalibrationSet.file(Fixtures.path("wanda/calibration.txt"), limit: nil, maskRatio: maskRatio,
                                tokenizer: CharTokenizer(vocab: ckpt.vocab))
    }

    static func spec(_ method: PruningMethod, _ pattern: String, _ sparsity: Double) -> PruningSpec {
        var s = PruningSpec()
        s.method = method; s.pattern = SparsityPattern(pattern)!; s.sparsity = sparsity
        return s
    }

    @Test(arguments: [0, 1, 2, 3])
    func wandaMasksMatchTheNumpyReference(caseIndex: Int) throws {
        let ref = Self.reference.cases[caseIndex]
        let (ckpt, dense) = try Self.tinyModel()
        var model = dense
        _ = try ModelPruner(spec: Self.spec(.wanda, ref.pattern, ref.sparsity), calibration: Self.calibration(ckpt)).prune(&model)
        var differing: [String] = []
        for (name, rows) in ref.masks {
            let w = model.namedTensors[name]!
            let ours = (0..<w.rows).map { r in String(w.row(r).map { $0 == 0 ? "0" : "1" }) }
            let bad = zip(ours, rows).filter { $0 != $1 }.count
            if bad > 0 { differing.append("\(name): \(bad) rows differ") }
        }
        #expect(differing.isEmpty, "\(ref.pattern) \(ref.sparsity): \(differing)")
    }

    @Test func wandaScalerRowMatchesTheReference() throws {
        let ref = Self.reference.cases[0]
        let (ckpt, dense) = try Self.tinyModel()
        let seqs = try Self.calibration(ckpt).sequences(maskID: dense.config.maskTokenID)
        let layout = SequenceLayout(lengths: seqs.map(\.count))
        let inputs = dense.blocks[0].forward(try dense.embed(seqs), dense.context(layout), recording: .linearInputs).activations!
        for linear in [BlockLinear.qProj, .attnOut, .ffProj, .ffOut] {
            let x = inputs[linear.site]
            var s = LinearStatistics(inFeatures: x.cols)
            for i in 0..<layout.count { s.add(x, rows: layout.rows(of: i)) }
            let want = ref.scaler_row[linear.key(block: 0)]!
            let worst = zip(s.scalerRow, want).map { abs(Double($0) - $1) / max(abs($1), 1e-12) }.max()!
            #expect(worst < 1e-5, "\(linear): relative error \(worst)")
        }
    }

    /// Exact zero counts, every method and pattern; only the seven linears change.
    @Test(arguments: [PruningMethod.magnitude, .wanda, .sparsegpt])
    func zeroCountsAreExactAndOnlyLinearsChange(method: PruningMethod) throws {
        let (ckpt, dense) = try Self.tinyModel()
        for (pattern, sparsity) in [("unstructured", 0.5), ("2:4", 0.5), ("3:8", 0.375)] {
            var spec = Self.spec(method, pattern, sparsity)
            spec.magnitudePerRow = true
            var model = dense
            _ = try ModelPruner(spec: spec, calibration: Self.calibration(ckpt, maskRatio: 0.5)).prune(&model)
            for key in model.parameterKeys {
                let w = model[key]
                guard key.isBlockLinear else {
                    #expect(w == dense[key], "\(key) must not change")
                    continue
                }
                if method == .sparsegpt && spec.pattern == .unstructured {
                    // SparseGPT's comparison group is a block of up to 128 columns across all rows.
                    let expected = stride(from: 0, to: w.cols, by: spec.blockSize).reduce(0) {
                        $0 + Int(Double(w.rows * min(spec.blockSize, w.cols - $1)) * sparsity)
                    }
                    #expect(w.data.filter { $0 == 0 }.count == expected, "\(key)")
                    continue
                }
                for r in 0..<w.rows {
                    let row = w.row(r)
                    if case .nOfM(let n, let m) = spec.pattern {
                        for g in stride(from: 0, to: row.count, by: m) {
                            #expect(row[g..<(g + m)].filter { $0 == 0 }.count == n, "\(key) row \(r) group \(g)")
                        }
                    } else {
                        #expect(row.filter { $0 == 0 }.count == Int(Double(row.count) * sparsity), "\(key) row \(r)")
                    }
                }
            }
        }
    }

    struct SparseGPTReference: Decodable {
        struct Case: Decodable {
            let pattern: String; let sparsity: Double
            let masks: [String: [String]]
            let reconstruction_errors: [String: Double]
            let decision_margins: [String: Double]
            let weights: [String: [[Double]]]?
        }
        let cases: [Case]
    }

    static let sparseGPTReference: SparseGPTReference = {
        let data = FileManager.default.contents(atPath: Fixtures.path("sparsegpt/sparsegpt-reference.json"))!
        return try! JSONDecoder().decode(SparseGPTReference.self, from: data)
    }()

    /// SparseGPT against the independent float64 numpy reference (Fixtures/sparsegpt): masks,
    /// per-layer reconstruction errors and, for one linear, the compensated weights. N:M chooses
    /// each group lazily, as the reference code does. A mask may differ only in a linear whose
    /// reference decision margin is a float32-scale near-tie.
    @Test(arguments: [0, 1, 2])
    func sparseGPTMatchesTheNumpyReference(caseIndex: Int) throws {
        let ref = Self.sparseGPTReference.cases[caseIndex]
        let (ckpt, dense) = try Self.tinyModel()
        var model = dense
        let report = try ModelPruner(spec: Self.spec(.sparsegpt, ref.pattern, ref.sparsity),
                                     calibration: Self.calibration(ckpt)).prune(&model)
        var differing: [String] = []
        for (name, rows) in ref.masks {
            let w = model.namedTensors[name]!
            let ours = (0..<w.rows).map { r in String(w.row(r).map { $0 == 0 ? "0" : "1" }) }
            if zip(ours, rows).contains(where: { $0 != $1 }) && ref.decision_margins[name]! > 1e-4 { differing.append(name) }
        }
        #expect(differing.isEmpty, "\(ref.pattern): masks differ in \(differing)")
        for layer in report.layers {
            let want = ref.reconstruction_errors[BlockLinear(name: layer.linear)!.key(block: layer.block)]!
            let error = try #require(layer.reconstructionError)
            #expect(abs(error - want) <= 1e-3 * want, "\(layer.block) \(layer.linear): \(error) vs \(want)")
        }
        for (name, rows) in ref.weights ?? [:] {
            let w = model.namedTensors[name]!
            let worst = rows.enumerated().flatMap { r, row in row.enumerated().map { abs(Double(w.data[r * w.cols + $0]) - $1) } }.max()!
            #expect(worst < 1e-5, "\(name): weights differ by \(worst)")
        }
    }

    /// The two routes to the reconstruction error (Gram matrix, or the inputs themselves) agree.
    @Test func reconstructionErrorRoutesAgree() throws {
        var rng = SplitMix64(seed: 9)
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(rng.uniform() * 2 - 1) })
        }
        let x = random([30, 12]), w = random([8, 12])
        var pruned = w
        for i in stride(from: 0, to: pruned.count, by: 3) { pruned.data[i] = 0 }
        var stats = LinearStatistics(inFeatures: 12)
        var direct = ReconstructionError()
        for s in stride(from: 0, to: 30, by: 10) {
            stats.add(x, rows: s..<(s + 10))
            direct.add(x.sliceRows(s..<(s + 10)), original: w, pruned: pruned)
        }
        let viaGram = stats.reconstructionError(original: w, pruned: pruned)
        #expect(viaGram > 0.1 && abs(viaGram - direct.value) < 1e-5 * viaGram, "\(viaGram) vs \(direct.value)")
        #expect(!LinearStatistics(inFeatures: 12, keepsGram: false).keepsGram)
    }

    @Test func magnitudeWholeMatrixZeroesTheGlobalSmallest() throws {
        let w = Tensor(shape: [2, 4], data: [0.1, -5, 3, 0.2, 4, -0.05, 6, 7])
        var spec = PruningSpec(); spec.method = .magnitude; spec.sparsity = 0.5
        let pruned = try MagnitudePruner().prune(w, statistics: LinearStatistics(inFeatures: 4), spec: spec)
        #expect(pruned.weight.data == [0, -5, 0, 0, 4, 0, 6, 7])   // row 0 loses three, row 1 one
        #expect(pruned.mask == Mask(keep: [false, true, false, false, true, false, true, true], rows: 2, cols: 4))
    }

    @Test func reconstructionErrorOrdersTheMethods() throws {
        let (ckpt, dense) = try Self.tinyModel()
        var errors: [PruningMethod: Double] = [:]
        for method in PruningMethod.allCases {
            var model = dense
            errors[method] = try ModelPruner(spec: Self.spec(method, "unstructured", 0.5),
                                             calibration: Self.calibration(ckpt, maskRatio: 0.5)).prune(&model).meanReconstructionError
        }
        #expect(errors[.sparsegpt]! < errors[.wanda]!, "\(errors)")
        #expect(errors[.wanda]! < errors[.magnitude]!, "\(errors)")
    }

    @Test func badSpecsAreRejected() throws {
        let (ckpt, dense) = try Self.tinyModel()
        let calib = try Self.calibration(ckpt)
        for (pattern, sparsity, fragment) in [("unstructured", 1.0, "--sparsity"), ("unstructured", -0.1, "--sparsity"),
                                              ("4:4", 1.0, "N < M"), ("2:5", 0.4, "not divisible")] {
            var model = dense
            #expect(throws: PruningError.self) {
                _ = try ModelPruner(spec: Self.spec(.wanda, pattern, sparsity), calibration: calib).prune(&model)
            }
            #expect(Self.spec(.wanda, pattern, sparsity).problem(for: dense.config)?.contains(fragment) == true)
        }
    }

    /// Magnitude scores the weights alone: without calibration it prunes to the same weights,
    /// measures no reconstruction error and records no calibration; the other methods refuse.
    @Test func magnitudeNeedsNoCalibration() throws {
        let (ckpt, dense) = try Self.tinyModel()
        for pattern in ["unstructured", "2:4"] {
            let spec = Self.spec(.magnitude, pattern, 0.5)
            var calibrated = dense, bare = dense
            let withCalibration = try ModelPruner(spec: spec, calibration: Self.calibration(ckpt)).prune(&calibrated)
            let without = try ModelPruner(spec: spec, calibration: nil).prune(&bare)
            #expect(bare == calibrated, "\(pattern)")
            #expect(withCalibration.meanReconstructionError != nil && without.meanReconstructionError == nil)
            #expect(without.layers.map(\.sparsity) == withCalibration.layers.map(\.sparsity))
            #expect(without.layers.allSatisfy { $0.reconstructionError == nil })
            #expect(!without.provenanceJSON.contains("calibration") && withCalibration.provenanceJSON.contains("calibration"))
        }
        for method in [PruningMethod.wanda, .sparsegpt] {
            var model = dense
            #expect(throws: PruningError.self) { try ModelPruner(spec: Self.spec(method, "unstructured", 0.5), calibration: nil).prune(&model) }
        }
    }

    /// `prune --method magnitude` and `drop --layers` read no calibration unless asked: on a
    /// model too short for the default calibration samples both work, while Wanda and a drop
    /// chosen by a criterion fail on it, and a calibration file named to `drop --layers` is not read.
    @Test func theCommandsReadCalibrationOnlyWhenItIsUsed() throws {
        let dir = Fixtures.temporaryDirectory().path
        let config = ModelConfig(vocabSize: CharTokenizer.referenceVocab.count, dModel: 16, nLayers: 2, nHeads: 2,
                                 nKVHeads: 2, dFF: 16, maxSeqLen: 8, maskTokenID: 1, eosTokenID: 0)
        let model = dir + "/short.h5"
        try LLaDAModel.random(config: config, seed: 1, std: 0.2).checkpoint(vocab: CharTokenizer.referenceVocab, provenance: []).save(to: model)
        let pare = { (args: [String]) in try SparseCommandLineTests.pare(args + ["--model", model], in: dir) }
        let magnitude = try pare(["prune", "--method", "magnitude", "--sparsity", "0.5", "--output", dir + "/m.h5", "--json"])
        #expect(magnitude.status == 0, "\(magnitude.err)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(magnitude.out.utf8)) as? [String: Any])
        #expect(json["calibration"] is NSNull && json["mean_reconstruction_error"] is NSNull)
        let pruned = try LLaDAModel(checkpoint: Checkpoint.load(from: dir + "/m.h5"))
        #expect(abs(Mask(nonZerosOf: pruned[.linear(0, .qProj)]).sparsity - 0.5) < 0.01)
        let text = try pare(["prune", "--method", "magnitude", "--sparsity", "0.5", "--output", dir + "/m2.h5"])
        #expect(text.status == 0 && text.out.contains("no calibration read"), "\(text.out)")
        // Asked for, calibration is read (and here does not fit the model).
        let asked = try pare(["prune", "--method", "magnitude", "--sparsity", "0.5", "--calibration-samples", "4", "--output", dir + "/m3.h5"])
        #expect(asked.status == 1 && asked.err.hasPrefix("error: "))
        let wanda = try pare(["prune", "--method", "wanda", "--sparsity", "0.5", "--output", dir + "/w.h5"])
        #expect(wanda.status == 1 && wanda.err.hasPrefix("error: "))
        let named = try pare(["drop", "--layers", "1", "--calibration", dir + "/absent.txt", "--output", dir + "/d.h5"])
        #expect(named.status == 0, "\(named.err)")
        #expect(try CheckpointReader.read(path: dir + "/d.h5").config.nLayers == 1)
        let chosen = try pare(["drop", "--count", "1", "--output", dir + "/c.h5"])
        #expect(chosen.status == 1 && chosen.err.hasPrefix("error: "))
    }
}
