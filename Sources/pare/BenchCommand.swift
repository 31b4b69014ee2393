import ArgumentParser
import Foundation
import Pare

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks, measured against OpenBLAS sgemm in the same run.",
        subcommands: [ForwardBenchCommand.self, KernelBenchCommand.self, GenerateBenchCommand.self, ThreadsBenchCommand.self])
}

struct ForwardBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Forward pass of a random LLaDA-shaped model (linears on the dense kernel decoding uses) vs cblas_sgemm on the same shapes.")

    @Option(help: "Model width.") var dModel = 1024
    @Option(help: "Attention heads.") var nHeads = 16
    @Option(help: "Key/value heads (default: heads).") var nKvHeads: Int?
    @Option(help: "MLP width.") var dFF = 2816
    @Option(help: "Number of blocks.") var nLayers = 4
    @Option(help: "Sequence length.") var tokens = 512
    @Option(help: "Vocabulary size.") var vocab = 4096
    @Option(help: "Sequences in the batch (each of --tokens tokens).") var sequences = 1
    @Option(help: "Timed rounds (median reported).") var repeats = 5
    @Flag(help: "Print one JSON object on stdout.") var json = false

    func validate() throws {
        // Bounded so that the random model and its activations stay allocatable.
        for (name, v, range) in [("--d-model", dModel, 1...65_536), ("--n-heads", nHeads, 1...1_024), ("--d-ff", dFF, 1...262_144),
                                 ("--n-layers", nLayers, 1...1_024), ("--tokens", tokens, 1...65_536), ("--vocab", vocab, 1...1_048_576),
                                 ("--sequences", sequences, 1...4_096), ("--repeats", repeats, 1...1_000)] {
            try requireRange(name, v, range)
        }
        if dModel % nHeads != 0 || (dModel / nHeads) % 2 != 0 {
            throw ValidationError("--d-model \(dModel) must split into --n-heads \(nHeads) heads of even size")
        }
        if let kv = nKvHeads, kv < 1 || nHeads % kv != 0 {
            throw ValidationError("--n-kv-heads \(kv) must divide --n-heads \(nHeads)")
        }
    }

    func run() throws {
        try runReportingErrors {
            var shape = ForwardBenchmark.Shape()
            shape.dModel = dModel; shape.nHeads = nHeads; shape.nKVHeads = nKvHeads ?? nHeads
            shape.dFF = dFF; shape.nLayers = nLayers; shape.tokens = tokens; shape.vocab = vocab
            shape.sequences = sequences
            let r = try ForwardBenchmark(shape: shape, repeats: repeats).run(progress: log)
            if json {
                printJSON(["forward_gflops": r.forwardGflops, "sgemm_gflops": r.sgemmGflops, "ratio": r.ratio,
                           "forward_seconds": r.forwardSeconds, "sgemm_seconds": r.sgemmSeconds,
                           "gflop_per_forward": r.gflopPerForward, "threads": r.threads, "dense_kernel": r.denseKernel,
                           "shape": ["d_model": dModel, "n_heads": nHeads, "n_kv_heads": shape.nKVHeads, "d_ff": dFF,
                                     "n_layers": nLayers, "tokens": tokens, "vocab": vocab, "sequences": sequences]] as [String: Any])
            } else {
                print(String(format: "forward  %.1f GFLOP/s (%.3f s for %.1f GFLOP)", r.forwardGflops, r.forwardSeconds, r.gflopPerForward))
                print(String(format: "sgemm    %.1f GFLOP/s on the same matmul shapes (%.3f s)", r.sgemmGflops, r.sgemmSeconds))
                print(String(format: "ratio    %.3f  (threads: %d; linears on %@, OpenBLAS core %@)", r.ratio, r.threads, r.denseKernel, BLAS.coreName))
            }
        }
    }
}

struct ThreadsBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "threads",
        abstract: "From what size a dense product pays for splitting across cores (one thread vs all, same run).")

    @Option(help: "Timed rounds per size (median reported).") var repeats = 5
    @Option(help: "Largest token count (sizes double from 1).") var maxTokens = 2048
    @Flag(help: "Print one JSON object on stdout.") var json = false

    func validate() throws {
        try requireRange("--repeats", repeats, 1...1_000)
        try requireRange("--max-tokens", maxTokens, 1...65_536)
    }

    func run() throws {
        try runReportingErrors {
            var bench = ThreadingBenchmark()
            bench.repeats = repeats
            bench.maxTokens = maxTokens
            let r = bench.run(progress: log)
            if json {
                try printEncodedJSON(r)
                return
            }
            print("one thread vs \(r.cores) (speedup of the split), y = x W^T with W [width, width]")
            for row in r.rows {
                print(String(format: "%-14@ %4dx%-4d T=%-5d %9d MACs  %.2fx", row.kernel, row.width, row.width, row.tokens, row.multiplyAdds, row.speedup))
            }
            for (key, value) in r.thresholds.sorted(by: { $0.key < $1.key }) {
                print("threshold \(key): " + (value.map { "\($0) multiply-adds (2^\(String(format: "%.1f", log2(Double($0)))))" } ?? "splitting never paid \(bench.margin)x"))
            }
            print("in use: BLAS.threadFromWork = 2^\(Int(log2(Double(BLAS.threadFromWork)))) (BLAS and the packed kernel)")
        }
    }
}
