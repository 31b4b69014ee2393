import Foundation
import Testing
@testable import Pare

/// Golden tests against the independent numpy reference in Fixtures/reference
/// (make_reference.py: float64 forward pass and sampler loop written from docs/algorithms.md).
@Suite struct ReferenceModelTests {
    struct Reference: Decodable {
        struct LogitsCase: Decodable { let ids: [Int]; let logits: [[Double]] }
        struct Options: Decodable {
            let sampler: String; let gen_length: Int; let steps: Int; let block_length: Int
            let threshold: Double; let factor: Double; let prophet: Bool; let temperature: Double; let seed: UInt64
        }
        struct GenerationCase: Decodable {
            let prompt: String; let prompt_ids: [Int]; let options: Options
            let tokens: [Int]; let text: String; let nfe: Int
        }
        let logits: [LogitsCase]
        let logits_f16: [LogitsCase]
        let generations: [GenerationCase]
    }

    static let reference: Reference = {
        let data = FileManager.default.contents(atPath: Fixtures.path("reference/reference.json"))!
        return try! JSONDecoder().decode(Reference.self, from: data)
    }()

    static func model(_ file: String) throws -> (Checkpoint, LLaDAModel) {
        let ckpt = try Checkpoint.load(from: Fixtures.path("reference/" + file))
        return (ckpt, try LLaDAModel(checkpoint: ckpt))
    }

    /// max |ours - ref| / max |ref| over one case.
    static func relativeError(_ ours: Tensor, _ ref: [[Double]]) -> Double {
        var maxDiff = 0.0, maxRef = 0.0
        for (r, row) in ref.enumerated() {
            for (v, x) in row.enumerated() {
                maxDiff = max(maxDiff, abs(Double(ours.data[r * row.count + v]) - x))
                maxRef = max(maxRef, abs(x))
            }
        }
        return maxDiff / maxRef
    }

    @Test(arguments: ["tiny-gqa.h5", "tiny-gqa-f16.h5"])
    func logitsMatchReference(file: String) throws {
        let (_, model) = try Self.model(file)
        let cases = file.contains("f16") ? Self.reference.logits_f16 : Self.reference.logits
        #expect(cases.count >= 4)
        for c in cases {
            let ours = try model.logits([c.ids])
            #expect(ours.shape == [c.ids.count, model.config.vocabSize])
            let err = Self.relativeError(ours, c.logits)
            #expect(err < 1e-4, "case of \(c.ids.count) tokens: relative error \(err)")
        }
    }

    @Test func batchingDoesNotChangeLogits() throws {
        let (_, model) = try Self.model("tiny-gqa.h5")
        let seqs = Self.reference.logits.map(\.ids)
        let together = try model.logits(seqs)
        var row = 0
        for s in seqs {
            let alone = try model.logits([s])
            let slice = Array(together.data[(row * model.config.vocabSize)..<((row + s.count) * model.config.vocabSize)])
            // OpenBLAS may pick other kernels for other row counts, so equality is up to fp32 rounding.
            let diff = zip(alone.data, slice).map { abs($0 - $1) }.max() ?? 0
            let scale = alone.data.map(abs).max() ?? 1
            #expect(diff <= 1e-6 * scale, "sequence of \(s.count) tokens differs by \(diff) inside a batch")
            row += s.count
        }
    }

    static func options(_ o: Reference.Options) -> SamplingOptions {
        var s = SamplingOptions()
        s.sampler = SamplerKind(rawValue: o.sampler)!
        s.genLength = o.gen_length; s.steps = o.steps; s.blockLength = o.block_length
        s.threshold = o.threshold; s.factor = o.factor; s.prophet = o.prophet
        s.temperature = o.temperature; s.seed = o.seed
        return s
    }

    @Test func generationsMatchReference() throws {
        let (ckpt, model) = try Self.model("tiny-gqa.h5")
        let tokenizer = CharTokenizer(vocab: ckpt.vocab)
        var mismatches: [String] = []
        for c in Self.reference.generations {
            #expect(try tokenizer.encode(c.prompt) == c.prompt_ids)
            let sampler = try MaskedDiffusionSampler(model: model, options: Self.options(c.options))
            let g = try sampler.generate([c.prompt_ids])[0]
            if g.tokens != c.tokens || g.nfe != c.nfe {
                mismatches.append("\(c.prompt) \(c.options): got \(g.tokens) nfe \(g.nfe), want \(c.tokens) nfe \(c.nfe)")
            }
            #expect(tokenizer.decodeAnswer(g.tokens, eos: model.config.eosTokenID) == c.text)
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(Self.reference.generations.count) differ:\n\(mismatches.joined(separator: "\n"))")
        #expect(Self.reference.generations.count >= 60)
    }

    /// A prompt decodes to the same tokens and NFE alone or inside a batch of other prompts.
    @Test func batchedGenerationEqualsAlone() throws {
        let (_, model) = try Self.model("tiny-gqa.h5")
        let cases = Self.reference.generations
        // Group cases by options so each group can be decoded as one batch.
        var groups: [String: [Reference.GenerationCase]] = [:]
        for c in cases { groups["\(c.options)", default: []].append(c) }
        var compared = 0
        for group in groups.values where group.count > 1 {
            let sampler = try MaskedDiffusionSampler(model: model, options: Self.options(group[0].options))
            let batch = try sampler.generate(group.map(\.prompt_ids))
            for (c, g) in zip(group, batch) {
                #expect(g.tokens == c.tokens && g.nfe == c.nfe, "\(c.prompt) \(c.options) differs in a batch")
                compared += 1
            }
        }
        #expect(compared >= 20)
    }
}
