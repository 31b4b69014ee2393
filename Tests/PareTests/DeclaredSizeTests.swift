import Foundation
import Testing
@testable import Pare

/// Files that declare absurd sizes (issue #10): a config whose parameter count overflows an
/// `Int` trapped, and compressed tensors whose chunks were never written were allocated in full
/// (a 78 KB file asked for 64 GiB). Fixtures: `Fixtures/reference/make_huge.py` (h5py).
@Suite struct DeclaredSizeTests {
    static func loadError(_ name: String) -> String? {
        do {
            _ = try ModelFile.open(Fixtures.path("reference/huge/\(name)"), residency: .auto)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func unwrittenCompressedChunksAreAnError() throws {
        let error = try #require(Self.loadError("unwritten-compressed.h5"))
        #expect(error.hasSuffix("cannot read tensor model.transformer.blocks.0.ff_proj.weight: the file stores 0 of its 1048576 chunks (data never written)"), "\(error)")
        let dir = Fixtures.temporaryDirectory().path
        let r = try SparseCommandLineTests.pare(["generate", "--model", Fixtures.path("reference/huge/unwritten-compressed.h5"),
                                                 "--prompt", "1+2=", "--gen-length", "4"], in: dir)
        #expect(r.status == 1 && r.err.hasPrefix("error: ") && r.err.filter { $0 == "\n" }.count == 1, "\(r.err)")
    }

    @Test func overflowingConfigIsAnError() throws {
        let error = try #require(Self.loadError("overflow-config.h5"))
        #expect(error.contains("inconsistent /config: the config declares more than \(Int.max) parameters, implausibly many (at most 2^44)"), "\(error)")
    }

    /// The arithmetic count equals the count of the listed tensors, and saturates instead of
    /// trapping; so do a tensor's element and byte counts and the header's total.
    @Test func countsSaturateAndAgreeWithTheTensorList() throws {
        let configs = [CheckpointFixtures.config, SparseFileTests.config,
                       ModelConfig(vocabSize: 126_464, dModel: 4096, nLayers: 32, nHeads: 32, nKVHeads: 8, dFF: 12_288,
                                   maxSeqLen: 4096, maskTokenID: 1, eosTokenID: 0),
                       ModelConfig(architecture: "dream", vocabSize: 152_064, dModel: 3584, nLayers: 28, nHeads: 28, nKVHeads: 4,
                                   dFF: 18_944, maxSeqLen: 4096, maskTokenID: 1, eosTokenID: 0)]
        for config in configs {
            let listed = config.expectedTensors.map { $0.shape.reduce(1, *) }.reduce(0, +)
            #expect(config.parameterCount == listed, "\(config)")
            #expect(config.problem() == nil)
        }
        var absurd = configs[0]
        absurd.dModel = 1 << 30; absurd.nHeads = 4; absurd.nKVHeads = 2; absurd.dFF = Int(Int32.max)
        #expect(absurd.parameterCount == .max)
        #expect(absurd.problem()?.contains("implausibly many") == true)
        absurd.dModel = 1 << 20; absurd.dFF = 1 << 20; absurd.nLayers = 16
        // Per block: two norms, q and attn_out d x d, k and v together d x d (4 heads, 2 kv
        // heads), three feed-forward d x d_ff; plus embedding, head and final norm.
        #expect(absurd.parameterCount == 16 * (2 * (1 << 20) + 3 * (1 << 40) + 3 * (1 << 40)) + 2 * absurd.vocabSize * (1 << 20) + (1 << 20))
        #expect(absurd.problem()?.contains("implausibly many") == true, "1.1e14 parameters is over 2^44")

        let huge = TensorInfo(name: "x", shape: [Int(Int32.max), Int(Int32.max), 2], dtype: .float32)
        #expect(huge.count == Int(Int32.max) * Int(Int32.max) * 2 && huge.byteCount == .max, "2^63 elements fit, their bytes do not")
        let header = CheckpointHeader(path: "x", fileSize: 0, config: configs[0], tokenizer: .char(vocab: []), provenance: [],
                                      tensors: [huge, huge, huge], checksummed: false)
        #expect(header.parameterCount == .max && header.residentBytes == .max)
    }
}
