import ArgumentParser
import Pare

/// Calibration options shared by `prune` and `drop`.
struct CalibrationArguments: ParsableArguments {
    @Option(help: "Calibration text, one sample per line (PROMPT<TAB>ANSWER marks the answer), or a .jsonl data set.") var calibration: String?
    @Option(help: "Calibration samples (default 128 from the reference tasks' training split).")
    var calibrationSamples: Int?
    @Option(help: "Fraction of answer tokens masked in calibration inputs (0 = unmasked).")
    var calibrationMaskRatio = CalibrationSet.defaultMaskRatio
    @Option(help: "Seed of the calibration samples and masks.") var seed: UInt64 = 0

    func validate() throws {
        if let c = calibrationSamples { try requireRange("--calibration-samples", c, 1...1_000_000) }
        if !(calibrationMaskRatio >= 0 && calibrationMaskRatio <= 1) {
            throw ValidationError("--calibration-mask-ratio must be in [0, 1] (got \(calibrationMaskRatio))")
        }
    }

    func calibrationSet(tokenizer: any Tokenizer, eos: Int) throws -> CalibrationSet {
        if let calibration {
            return try CalibrationSet.file(calibration, limit: calibrationSamples, maskRatio: calibrationMaskRatio,
                                           seed: seed, tokenizer: tokenizer)
        }
        return try CalibrationSet.referenceTasks(count: calibrationSamples ?? CalibrationSet.defaultSamples,
                                                 maskRatio: calibrationMaskRatio, seed: seed, tokenizer: tokenizer, eos: eos)
    }
}
