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
}
