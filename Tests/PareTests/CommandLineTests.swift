import Foundation
import Testing
@testable import Pare

/// Every subcommand end to end through the built `pare`, in the style of swift-argument-parser's
/// own tests: exit codes, the one-line `error:` form, and the JSON shape DESIGN.md promises
/// (issue #10). Small settings keep each run under a second.
@Suite struct CommandLineTests {
    static let model = BundledRecipeTests.path("models/pare-tiny.h5")

    /// Runs pare with --json and returns the parsed stdout object (the last line, for commands
    /// that print one object per prompt), after checking exit 0 and an empty stderr-free parse.
    static func json(_ arguments: [String], in dir: String) throws -> [String: Any] {
        let r = try SparseCommandLineTests.pare(arguments + ["--json"], in: dir)
        try #require(r.status == 0, "\(arguments): exit \(r.status): \(r.err)")
        let line = try #require(r.out.textLines.last(where: { !$0.isEmpty }), "\(arguments): no stdout")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(arguments): \(line)")
    }

    static func expectKeys(_ object: [String: Any], _ keys: [String], _ what: String) {
        for key in keys { #expect(object[key] != nil, "\(what): no \"\(key)\" in \(object.keys.sorted())") }
    }

    @Test func everySubcommandPrintsItsJSONShape() throws {
        let dir = Fixtures.temporaryDirectory().path
        let m = Self.model
        let inspect = try Self.json(["inspect", "--model", m], in: dir)
        Self.expectKeys(inspect, ["path", "config", "parameters", "sparsity", "provenance"], "inspect")
        Self.expectKeys(inspect["sparsity"] as? [String: Any] ?? [:], ["overall", "blocks"], "inspect.sparsity")

        let generate = try Self.json(["generate", "--model", m, "--prompt", "12+34="], in: dir)
        Self.expectKeys(generate, ["text", "tokens", "nfe", "commit_step", "decode_order"], "generate")
        #expect(generate["text"] as? String == "46")
        Self.expectKeys(generate["decode_order"] as? [String: Any] ?? [:],
                        ["commits_per_step", "leftmost_share", "spearman", "prophet_step"], "generate.decode_order")

        let eval = try Self.json(["eval", "--model", m, "--samples", "4", "--tasks", "add,rev"], in: dir)
        Self.expectKeys(eval, ["tasks", "macro_accuracy", "wall_seconds"], "eval")
        Self.expectKeys((eval["tasks"] as? [String: Any])?["add"] as? [String: Any] ?? [:],
                        ["accuracy", "nfe_mean", "tokens_per_step", "decode_order", "scoring", "gen_length"], "eval.tasks.add")

        // A bundled model by short name (found from the executable's checkout, since the folder
        // has no models/); the dependent-token tasks decode at their own length and say how they are scored.
        let dependent = try Self.json(["eval", "--model", "pare-tiny", "--samples", "2", "--tasks", "perm,carry", "--steps", "1"], in: dir)
        let perm = (dependent["tasks"] as? [String: Any])?["perm"] as? [String: Any] ?? [:]
        let carry = (dependent["tasks"] as? [String: Any])?["carry"] as? [String: Any] ?? [:]
        #expect(perm["scoring"] as? String == "validity" && carry["scoring"] as? String == "exact")
        #expect(perm["gen_length"] as? Int == 32 && carry["nfe_mean"] as? Double == 1)
        let short = try SparseCommandLineTests.pare(["eval", "--samples", "2", "--tasks", "carry", "--gen-length", "12"], in: dir)
        #expect(short.status == 1 && short.err.contains("--gen-length 12 is shorter than carry's longest answer (23 tokens)"))

        // A small random model keeps the debug-built commands below quick.
        let small = dir + "/small.h5"
        let initialised = try SparseCommandLineTests.pare(["init", "--output", small, "--d-model", "32", "--n-layers", "2",
                                                           "--n-heads", "2", "--d-ff", "48", "--vocab", "64", "--max-seq-len", "48"], in: dir)
        try #require(initialised.status == 0, "init: \(initialised.err)")
        let prune = try Self.json(["prune", "--model", small, "--sparsity", "0.5", "--method", "wanda",
                                   "--calibration-samples", "4", "--output", dir + "/p.h5"], in: dir)
        #expect(prune["output"] != nil || prune["layers"] != nil, "prune: \(prune.keys.sorted())")
        #expect(FileManager.default.fileExists(atPath: dir + "/p.h5"))

        let drop = try Self.json(["drop", "--model", small, "--layers", "1", "--output", dir + "/d.h5"], in: dir)
        Self.expectKeys(drop, ["output", "dropped", "n_layers"], "drop")
        #expect(drop["n_layers"] as? Int == 1)

        let export = try Self.json(["export", dir + "/p.h5", "--format", "sparse-h5", "--output", dir + "/e.h5"], in: dir)
        Self.expectKeys(export, ["output", "format"], "export")

        // Dropping blocks of a sparse file keeps its encoding.
        _ = try Self.json(["drop", "--model", dir + "/e.h5", "--layers", "0", "--output", dir + "/ed.h5"], in: dir)
        let dropped = try Self.json(["inspect", "--model", dir + "/ed.h5"], in: dir)
        let encodings = (dropped["block_linears"] as? [String: Any])?["encodings"] as? [String: Any]
        #expect(encodings?.keys.sorted() == ["bitmask"], "\(String(describing: encodings))")

        let compare = try Self.json(["compare", "a=\(small)", "b=\(dir)/e.h5", "--samples", "2"], in: dir)
        #expect((compare["models"] as? [[String: Any]])?.count == 2)

        let bench = try Self.json(["bench", "forward", "--d-model", "32", "--n-heads", "2", "--d-ff", "64", "--n-layers", "1",
                                   "--tokens", "16", "--vocab", "64", "--repeats", "1"], in: dir)
        Self.expectKeys(bench, ["forward_gflops", "sgemm_gflops", "ratio", "shape"], "bench forward")

        let kernels = try Self.json(["bench", "kernels", "--shapes", "64x64", "--tokens", "1,16", "--sparsities", "0.5",
                                     "--patterns", "", "--repeats", "1"], in: dir)
        Self.expectKeys(kernels, ["simd", "cells", "break_even"], "bench kernels")
        #expect((kernels["cells"] as? [Any])?.count == 2)

        // bench generate: the decode loop's figures, and with --print-tokens what it decoded,
        // which must be what `generate` decodes for the same prompts.
        let gen = try Self.json(["bench", "generate", "--model", small, "--samples", "3", "--batch-size", "2",
                                 "--repeats", "1", "--print-tokens"], in: dir)
        Self.expectKeys(gen, ["tokens_per_second", "nfe_per_second", "seconds_per_step", "product_share",
                              "sequence_nfe", "batched_steps", "page_faults", "prompt_ids", "generations"], "bench generate")
        #expect(gen["sequence_nfe"] as? Int == 36 && gen["batched_steps"] as? Int == 24, "fixed sampler: 12 steps per sequence, 2 batches")
        // Every linear sparse: attention makes the first OpenBLAS calls, and OpenBLAS must still
        // run single-threaded (its spinning threads took 35 % off decoding on 2 cores).
        let sparse = try Self.json(["bench", "generate", "--model", small, "--samples", "2", "--repeats", "1", "--kernels", "sparse"], in: dir)
        #expect(sparse["openblas_threads"] as? Int == 1)
        let ids = (gen["prompt_ids"] as? [[Int]]) ?? []
        #expect(ids.count == 3)
        if let first = ids.first {
            let single = try Self.json(["generate", "--model", small, "--prompt-ids", first.map(String.init).joined(separator: ",")], in: dir)
            #expect(single["tokens"] as? [Int] == (gen["generations"] as? [[Int]])?.first)
        }
    }

    /// Bad input: one `error:` line and exit 1; bad usage: exit 64 with ArgumentParser's message.
    @Test func errorsAreOneLineWithTheirExitCodes() throws {
        let dir = Fixtures.temporaryDirectory().path
        let missing = try SparseCommandLineTests.pare(["inspect", "--model", dir + "/nope.h5"], in: dir)
        #expect(missing.status == 1)
        #expect(missing.err.hasPrefix("error: ") && missing.err.filter { $0 == "\n" }.count == 1, "\(missing.err)")
        #expect(missing.err.contains("nope.h5"))
        let usage = try SparseCommandLineTests.pare(["generate", "--model", Self.model, "--prompt", "1+1=", "--threshold", "2"], in: dir)
        #expect(usage.status == 64 && usage.err.contains("--threshold must be in (0, 1]"))
        let unknown = try SparseCommandLineTests.pare(["generate", "--bogus"], in: dir)
        #expect(unknown.status == 64)
        let kernels = try SparseCommandLineTests.pare(["generate", "--model", Self.model, "--prompt", "1+1=", "--kernels", "fast"], in: dir)
        #expect(kernels.status == 64 && kernels.err.contains("fast"))
        let help = try SparseCommandLineTests.pare(["help", "bogus"], in: dir)
        #expect(help.status == 64 && help.err.hasPrefix("error: unknown subcommand 'bogus' (known: inspect, generate"))
        let helpPrune = try SparseCommandLineTests.pare(["help", "prune"], in: dir)
        #expect(helpPrune.status == 0 && helpPrune.out.contains("--sparsity"))
        let simd = try SparseCommandLineTests.pare(["bench", "kernels", "--simd", "neon"], in: dir)
        #expect(simd.status == 64 && simd.err.contains("--simd must be scalar, avx2 or avx512"))
    }
}
