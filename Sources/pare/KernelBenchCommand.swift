import ArgumentParser
import Foundation
import Pare

struct KernelBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Sparse kernels vs dense sgemm (sgemv at one token) on LLaDA-8B's linear shapes.")

    @Option(help: "Weight shapes out x in, comma-separated.") var shapes = "4096x4096,12288x4096,4096x12288"
    @Option(help: "Token counts T, comma-separated.") var tokens = "1,16,64,256,512"
    @Option(help: "Unstructured sparsities, comma-separated, each in [0, 1).") var sparsities = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95"
    @Option(help: "N:M patterns, comma-separated (empty for none).") var patterns = "2:4,4:8"
    @Option(help: "Instruction set: scalar, avx2 or avx512 (default: the widest this CPU runs).") var simd: String?
    @Option(help: "Threads for the sparse kernels (default: all cores).") var threads: Int?
    @Option(help: "Timed rounds per cell (median reported), 1-100.") var repeats = 3
    @Option(help: "Seed for the random weights and masks.") var seed: UInt64 = 0
    @Flag(help: "Print one JSON object on stdout.") var json = false

    func parsedShapes() throws -> [KernelBenchmark.Shape] {
        try shapes.split(separator: ",").map { item in
            let parts = item.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, parts.allSatisfy({ (1...65536).contains($0) }) else {
                throw ValidationError("--shapes: '\(item)' is not OUTxIN with both in 1...65536")
            }
            return KernelBenchmark.Shape(out: parts[0], inputs: parts[1])
        }
    }

    func parsedTokens() throws -> [Int] {
        try tokens.split(separator: ",").map { item in
            guard let t = Int(item), (1...4096).contains(t) else { throw ValidationError("--tokens: '\(item)' is not a count in 1...4096") }
            return t
        }
    }

    func parsedPatterns() throws -> [KernelBenchmark.Pattern] {
        let unstructured: [KernelBenchmark.Pattern] = try sparsities.split(separator: ",").map { item in
            guard let s = Double(item), s >= 0, s < 1 else { throw ValidationError("--sparsities: '\(item)' is not a number in [0, 1)") }
            return .unstructured(sparsity: s)
        }
        let structured: [KernelBenchmark.Pattern] = try patterns.split(separator: ",").map { item in
            let parts = item.split(separator: ":").compactMap { Int($0) }
            guard parts.count == 2, parts[0] >= 1, parts[0] < parts[1], parts[1] <= 64 else {
                throw ValidationError("--patterns: '\(item)' is not N:M with 1 <= N < M <= 64")
            }
            return .nOfM(n: parts[0], m: parts[1])
        }
        return unstructured + structured
    }

    func validate() throws {
        _ = try parsedShapes(); _ = try parsedTokens(); _ = try parsedPatterns()
        if let simd, SIMDLevel(rawValue: simd) == nil { throw ValidationError("--simd must be scalar, avx2 or avx512 (got '\(simd)')") }
        if let simd, let level = SIMDLevel(rawValue: simd), level > SIMDLevel.best {
            throw ValidationError("--simd \(simd): this CPU runs at most \(SIMDLevel.best)")
        }
        if let threads { try requireRange("--threads", threads, 1...256) }
        try requireRange("--repeats", repeats, 1...100)
    }

    func run() throws {
        try runReportingErrors {
            var bench = KernelBenchmark()
            bench.shapes = try parsedShapes()
            bench.tokens = try parsedTokens()
            bench.patterns = try parsedPatterns()
            if let simd { bench.level = SIMDLevel(rawValue: simd)! }
            if let threads { bench.threads = threads }
            bench.repeats = repeats
            bench.seed = seed
            log("sparse kernels: \(bench.level) (\(bench.level.width) floats per vector), \(bench.threads) threads; dense: OpenBLAS single-threaded, split over \(denseThreads) threads")
            let r = bench.run(progress: log)
            if json {
                try printEncodedJSON(r)
                return
            }
            print("SIMD \(r.simd) (\(r.vectorFloats) floats per vector), \(r.threads) threads; speedup = dense time / sparse time")
            for shape in bench.shapes.map(\.description) {
                print("\n\(shape)  (dense: sgemv at T=1, sgemm otherwise)")
                let header = ["pattern"] + bench.tokens.map { "T=\($0)" }
                print(header.map { $0.padding(toLength: 11, withPad: " ", startingAt: 0) }.joined())
                for pattern in bench.patterns.map(\.description) {
                    let row = bench.tokens.map { t in
                        r.cells.first { $0.shape == shape && $0.tokens == t && $0.pattern == pattern }.map { String(format: "%.2fx", $0.speedup) } ?? "-"
                    }
                    print(([pattern] + row).map { $0.padding(toLength: 11, withPad: " ", startingAt: 0) }.joined())
                }
                let be = bench.tokens.map { t in
                    r.breakEven.first { $0.shape == shape && $0.tokens == t }?.sparsity.map { String(format: "%.0f%%", $0 * 100) } ?? "none"
                }
                print((["break-even"] + be).map { $0.padding(toLength: 11, withPad: " ", startingAt: 0) }.joined())
                print((["kernel"] + bench.tokens.map { SparseKernels.variant(tokens: $0, level: bench.level) }).joined(separator: " "))
                // Against Pare's packed dense kernel, where it is what --kernels dense runs.
                let own = bench.patterns.map(\.description).map { pattern in
                    ([pattern] + bench.tokens.map { t in
                        r.cells.first { $0.shape == shape && $0.tokens == t && $0.pattern == pattern }?.speedupVsPareDense.map { String(format: "%.2fx", $0) } ?? "-"
                    }).map { $0.padding(toLength: 11, withPad: " ", startingAt: 0) }.joined()
                }
                if r.cells.contains(where: { $0.shape == shape && $0.speedupVsPareDense != nil }) {
                    print("\nvs Pare's packed dense kernel (what --kernels dense runs at these T on \(r.simd)):")
                    own.forEach { print($0) }
                }
            }
        }
    }
}
