import Foundation

/// The sparsity from which the sparse kernel beats dense BLAS, per weight shape and token
/// count, measured on this machine the first time it is asked for and then cached on disk.
///
/// Cache file: $PARE_CACHE_DIR/break-even.json, else $XDG_CACHE_HOME/pare/…, else
/// ~/.cache/pare/…. Keys name the SIMD level, thread count and kernel version
/// (`SparseKernels.version`), so a cache copied to another machine, read under PARE_SIMD=avx2 or
/// measured with older kernels never answers for the wrong kernels. Delete the file to measure
/// again.
public final class BreakEvenTable: @unchecked Sendable {
    public let level: SIMDLevel
    public let threads: Int
    public let cacheURL: URL?
    /// Measurements run by this process (the rest came from the cache).
    public private(set) var measurements = 0
    private var table: [String: Double]
    private let lock = NSLock()

    public init(level: SIMDLevel = .active, threads: Int = Parallel.cores, cacheURL: URL? = BreakEvenTable.defaultCacheURL) {
        self.level = level
        self.threads = threads
        self.cacheURL = cacheURL
        if let cacheURL, let data = try? Data(contentsOf: cacheURL),
           let stored = try? JSONDecoder().decode([String: Double].self, from: data) {
            table = stored
        } else {
            table = [:]
        }
    }

    public static var defaultCacheURL: URL? {
        let env = ProcessInfo.processInfo.environment
        let dir: URL
        if let d = env["PARE_CACHE_DIR"], !d.isEmpty { dir = URL(fileURLWithPath: d) }
        else if let d = env["XDG_CACHE_HOME"], !d.isEmpty { dir = URL(fileURLWithPath: d).appendingPathComponent("pare") }
        else if let home = env["HOME"], !home.isEmpty { dir = URL(fileURLWithPath: home).appendingPathComponent(".cache/pare") }
        else { return nil }
        return dir.appendingPathComponent("break-even.json")
    }

    /// Token counts are measured at the nearest power of two: the break-even moves slowly with T.
    static func tokenBucket(_ tokens: Int) -> Int {
        guard tokens > 1 else { return 1 }
        return 1 << Int((log2(Double(tokens))).rounded())
    }

    func key(out: Int, inputs: Int, tokens: Int) -> String {
        // The dense side is the dense kernel decoding would use (packed or BLAS), named in the key.
        let dense = PackedWeight.isFaster(tokens: Self.tokenBucket(tokens), level: level) ? "packed" : "blas"
        return "\(level) threads=\(threads) \(out)x\(inputs) T=\(Self.tokenBucket(tokens)) dense=\(dense) kernels=v\(SparseKernels.version)"
    }

    /// The break-even sparsity in [0, 1] for W [out, inputs] and `tokens` tokens; 1 when the
    /// sparse kernel never catches dense below 98 %.
    public func breakEven(out: Int, inputs: Int, tokens: Int) -> Double {
        let k = key(out: out, inputs: inputs, tokens: tokens)
        lock.lock()
        defer { lock.unlock() }
        if let known = table[k] { return known }
        let measured = Self.measure(out: out, inputs: inputs, tokens: Self.tokenBucket(tokens), level: level, threads: threads)
        measurements += 1
        table[k] = measured
        save()
        return measured
    }

    /// Bisection on sparsity: at each probe a random weight of that sparsity is timed against
    /// dense in alternating rounds; six probes place the break-even within 1.5 %.
    static func measure(out: Int, inputs: Int, tokens: Int, level: SIMDLevel, threads: Int) -> Double {
        var rng = SplitMix64(seed: UInt64(out &* 131 &+ inputs &* 7 &+ tokens))
        let dense = Tensor(shape: [out, inputs], data: (0..<out * inputs).map { _ in Float(rng.uniform() * 2 - 1) })
        let x = Tensor(shape: [tokens, inputs], data: (0..<tokens * inputs).map { _ in Float(rng.uniform() * 2 - 1) })
        // Against the dense kernel decoding would run: packed where it beats BLAS, else BLAS.
        let packed = PackedWeight.isFaster(tokens: tokens, level: level) ? PackedWeight(dense, level: level) : nil
        var y = Tensor(zeros: [tokens, out])
        func sparseWins(at s: Double) -> Bool {
            let w = BitmaskMatrix(dense: KernelBenchmark.prune(dense, .unstructured(sparsity: s), rng: &rng))
            let (d, sp) = KernelBenchmark.timeInterleaved(repeats: 3, roundSeconds: 0.005,
                { if let packed { packed.apply(x, into: &y, accumulate: false) } else { KernelBenchmark.denseProduct(x, dense) } },
                { _ = SparseKernels.linear(x, w, level: level, threads: threads) })
            return sp <= d
        }
        var lo = 0.0, hi = 0.98
        if sparseWins(at: lo) { return 0 }
        if !sparseWins(at: hi) { return 1 }
        for _ in 0..<6 {
            let mid = (lo + hi) / 2
            if sparseWins(at: mid) { hi = mid } else { lo = mid }
        }
        return hi
    }

    /// Writes the table atomically (temporary name, then rename); a cache that cannot be
    /// written only costs a measurement next time.
    private func save() {
        guard let cacheURL else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        guard let data = try? encoder.encode(table) else { return }
        try? FileManager.default.createDirectory(at: cacheURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? AtomicFile.write(String(decoding: data, as: UTF8.self), to: cacheURL.path)
    }
}
