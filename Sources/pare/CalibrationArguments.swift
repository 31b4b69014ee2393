import ArgumentParser
import Pare

/// Calibration options shared by `prune` and `drop`.
struct CalibrationArguments: ParsableArguments {
    @Option(help: "Calibration text, one sample per line (PROMPT<TAB>ANSWER marks the answer), or a .jsonl data set.") var calibration: String?
    @Option(help: "Calibration samples (default 128 from the tasks' training split).")
    var calibrationSamples: Int?
    @Option(help: "Tasks whose training split calibrates, comma-separated (default: the model's training tasks from its provenance, else add,kv,rev,chain).")
    var calibrationTasks: String?
    @Option(help: "Fraction of answer tokens masked in calibration inputs (0 = unmasked).")
    var calibrationMaskRatio = CalibrationSet.defaultMaskRatio
    @Option(help: "Seed of the calibration samples and masks.") var seed: UInt64 = 0

    func validate() throws {
        if let c = calibrationSamples { try requireRange("--calibration-samples", c, 1...1_000_000) }
        _ = try parsedTasks()
        if !(calibrationMaskRatio >= 0 && calibrationMaskRatio <= 1) {
            throw ValidationError("--calibration-mask-ratio must be in [0, 1] (got \(calibrationMaskRatio))")
        }
    }

    func calibrationSet(_ loaded: LoadedModel) throws -> CalibrationSet {
        if let calibration {
            return try CalibrationSet.file(calibration, limit: calibrationSamples, maskRatio: calibrationMaskRatio,
                                           seed: seed, tokenizer: loaded.tokenizer)
        }
        let tasks = try parsedTasks() ?? TaskCatalog.defaults(provenance: loaded.header.provenance)
        return try CalibrationSet.tasks(tasks, count: calibrationSamples ?? CalibrationSet.defaultSamples, maskRatio: calibrationMaskRatio,
                                        seed: seed, tokenizer: loaded.tokenizer, eos: loaded.config.eosTokenID)
    }

    /// Whether the user named calibration data (a file, tasks or a sample count): the methods
    /// that can do without it (magnitude pruning) read it only then.
    var isGiven: Bool { calibration != nil || calibrationTasks != nil || calibrationSamples != nil }

    /// The named tasks, or nil for the model's defaults.
    func parsedTasks() throws -> [any TaskDefinition]? {
        try calibrationTasks.map { try parseTaskList($0, option: "--calibration-tasks") }
    }
}

/// The tasks a comma-separated option names, in the order given (`--tasks`, `--calibration-tasks`).
func parseTaskList(_ list: String, option: String) throws -> [any TaskDefinition] {
    let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    let known = TaskCatalog.names.joined(separator: ", ")
    if names.isEmpty { throw ValidationError("\(option): name at least one of \(known)") }
    return try names.map {
        guard let t = TaskCatalog.named($0) else { throw ValidationError("\(option): unknown task \"\($0)\" (expected \(known))") }
        return t
    }
}
