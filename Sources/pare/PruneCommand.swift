import ArgumentParser
import Foundation
import Pare

struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Prune the seven block linears with magnitude, Wanda or SparseGPT (unstructured or N:M).")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Fraction of weights to zero, in [0, 1). With --pattern N:M it may be omitted (it is N/M).")
    var sparsity: Double?
    @Option(help: "magnitude, wanda or sparsegpt.") var method: PruningMethod = .wanda
    @Option(help: "unstructured or N:M (N zeros in every M input columns, e.g. 2:4).") var pattern = "unstructured"
    @Flag(help: "Magnitude: compare within each output row instead of the whole matrix.") var perRow = false
    @OptionGroup var calibrationOptions: CalibrationArguments
    @Option(help: "How the pruned block linears are stored: dense (with zeros), csr, bitmask, or nm (needs --pattern N:M).")
    var store: LinearStore = .dense
    @Option(help: "Output file (default: <model>.<method>-<sparsity>.h5 in the current folder).") var output: String?

    var parsedPattern: SparsityPattern? { SparsityPattern(pattern) }

    func validate() throws {
        guard let p = parsedPattern else { throw ValidationError("--pattern must be unstructured or N:M, e.g. 2:4 (got \(pattern))") }
        switch p {
        case .unstructured:
            guard let s = sparsity else { throw ValidationError("--sparsity is required for unstructured pruning") }
            if !(s >= 0 && s < 1) { throw ValidationError("--sparsity must be in [0, 1) (got \(s))") }
        case .nOfM(let n, let m):
            if n < 1 || n >= m { throw ValidationError("--pattern \(pattern): need 1 <= N < M") }
            if let s = sparsity, abs(s - Double(n) / Double(m)) > 1e-9 {
                throw ValidationError("--sparsity \(s) disagrees with --pattern \(pattern) (N/M = \(Double(n) / Double(m)))")
            }
        }
        if store.encoding(pattern: p) == nil {
            throw ValidationError("--store \(store.rawValue) needs --pattern N:M (the nm encoding stores M - N weights of every M)")
        }
    }

    func run() throws {
        try runReportingErrors {
            var spec = PruningSpec()
            spec.method = method
            spec.pattern = parsedPattern!
            spec.sparsity = sparsity ?? spec.effectiveSparsity
            spec.magnitudePerRow = perRow
            let path = modelOptions.resolvedPath()
            let loaded = try modelOptions.load()
            if let p = spec.problem(for: loaded.config) { throw CLIError(p) }
            let out = output ?? Self.defaultOutput(model: path, spec: spec)
            // Magnitude scores the weights alone: calibration only measures the reconstruction
            // errors, so it is read only when a calibration option asks for it.
            let calib = method == .magnitude && !calibrationOptions.isGiven ? nil : try calibrationOptions.calibrationSet(loaded)
            let encoding = store.encoding(pattern: spec.pattern)!
            let report = try ModelPruner(spec: spec, calibration: calib)
                .prune(loaded, writingTo: out, store: encoding, progress: modelOptions.json ? { _ in } : log)
            let memory = peakResidentMemoryMiB()
            if modelOptions.json {
                var obj: [String: Any] = [
                    "output": out, "method": spec.method.rawValue, "pattern": spec.pattern.description, "store": encoding.storeName,
                    "sparsity": spec.effectiveSparsity, "seconds": report.seconds,
                    "mean_reconstruction_error": report.meanReconstructionError ?? NSNull(),
                    "calibration": calib == nil ? NSNull() : ["source": report.calibrationSource ?? "", "samples": report.calibrationSamples ?? 0,
                                                              "mask_ratio": report.calibrationMaskRatio ?? 0] as [String: Any],
                    "layers": report.layers.map { ["block": $0.block, "linear": $0.linear, "shape": $0.shape,
                                                   "sparsity": $0.sparsity, "reconstruction_error": $0.reconstructionError ?? NSNull()] as [String: Any] },
                ]
                if let memory { obj["peak_memory_mib"] = memory }
                printJSON(obj)
            } else {
                print("block  linear     shape        sparsity  recon. error")
                for l in report.layers {
                    let shape = l.shape.map(String.init).joined(separator: "x")
                    print(String(format: "%5d  ", l.block) + l.linear.padding(toLength: 9, withPad: " ", startingAt: 0)
                          + "  " + shape.padding(toLength: 11, withPad: " ", startingAt: 0)
                          + String(format: "  %7.2f %%  ", l.sparsity * 100) + (l.reconstructionError.map { String(format: "%.4f", $0) } ?? "-"))
                }
                let error = report.meanReconstructionError.map { String(format: "mean reconstruction error %.4f", $0) }
                    ?? "no calibration read, so no reconstruction error (--calibration-samples N measures it)"
                print(error + String(format: "; pruning %.2f s%@", report.seconds,
                                     memory.map { String(format: ", peak memory %.0f MiB", $0) } ?? ""))
                print("wrote \(out)" + (encoding.isSparse ? " (block linears stored \(encoding))" : ""))
            }
        }
    }

    /// pare-tiny.h5 + wanda 50 % -> pare-tiny.wanda-50.h5; 2:4 -> pare-tiny.wanda-2of4.h5 (current folder).
    static func defaultOutput(model: String, spec: PruningSpec) -> String {
        let stem = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        let tag: String
        switch spec.pattern {
        case .unstructured: tag = String(format: "%g", (spec.sparsity * 1000).rounded() / 10)
        case .nOfM(let n, let m): tag = "\(n)of\(m)"
        }
        return "\(stem).\(spec.method.rawValue)-\(tag).h5"
    }
}

extension PruningMethod: ExpressibleByArgument {}
extension LinearStore: ExpressibleByArgument {}
