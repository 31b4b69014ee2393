import Foundation

/// One point of the learning curve: training loss and per-task accuracy at a step.
public struct CurvePoint: Codable, Equatable, Sendable {
    public var step: Int
    public var loss: Double
    public var learningRate: Double
    public var accuracy: [String: Double]
    public var elapsedSeconds: Double
}

/// Everything besides weights and optimizer moments that a resumed run needs.
public struct TrainingState: Codable, Equatable, Sendable {
    public var step = 0
    public var recipe: TrainingRecipe
    public var curve: [CurvePoint] = []
    public var elapsedSeconds = 0.0
    public var tokensSeen = 0
}

/// The on-disk training checkpoint: a folder `<output>.train/` holding
/// `model.h5`, `adam-m.h5`, `adam-v.h5` (pare-dlm files: the moments have the model's shape)
/// and `state.json`. It is written as a whole to a temporary folder and renamed into place.
public enum TrainingCheckpoint {
    public static func directory(for output: String) -> String { output + ".train" }

    public static func save(model: LLaDAModel, optimizer: AdamW, state: TrainingState, output: String) throws {
        let dir = directory(for: output)
        let tmp = dir + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        let fm = FileManager.default
        try? fm.removeItem(atPath: tmp)
        do {
            try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            let vocab = CharTokenizer.referenceVocab
            try model.checkpoint(vocab: vocab, provenance: []).save(to: tmp + "/model.h5", dtype: .float32)
            try optimizer.m.checkpoint(vocab: vocab, provenance: [#"{"op": "adamw-moment", "moment": 1}"#])
                .save(to: tmp + "/adam-m.h5", dtype: .float32)
            try optimizer.v.checkpoint(vocab: vocab, provenance: [#"{"op": "adamw-moment", "moment": 2}"#])
                .save(to: tmp + "/adam-v.h5", dtype: .float32)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try enc.encode(state).write(to: URL(fileURLWithPath: tmp + "/state.json"))
            // Swap folders: the old checkpoint is removed only after the new one is in place.
            let old = dir + ".old"
            try? fm.removeItem(atPath: old)
            if fm.fileExists(atPath: dir) { try fm.moveItem(atPath: dir, toPath: old) }
            try fm.moveItem(atPath: tmp, toPath: dir)
            try? fm.removeItem(atPath: old)
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw error
        }
    }

    public static func load(output: String) throws -> (LLaDAModel, AdamW, TrainingState) {
        let dir = directory(for: output)
        guard FileManager.default.fileExists(atPath: dir + "/state.json") else {
            throw TrainingError.state(dir, "no training checkpoint to resume from")
        }
        let state: TrainingState
        do {
            state = try JSONDecoder().decode(TrainingState.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/state.json")))
        } catch {
            throw TrainingError.state(dir + "/state.json", "unreadable training state: \(error)")
        }
        let model = try LLaDAModel(checkpoint: Checkpoint.load(from: dir + "/model.h5"))
        var optimizer = AdamW(like: model)
        optimizer.m = try LLaDAModel(checkpoint: Checkpoint.load(from: dir + "/adam-m.h5"))
        optimizer.v = try LLaDAModel(checkpoint: Checkpoint.load(from: dir + "/adam-v.h5"))
        optimizer.step = state.step
        return (model, optimizer, state)
    }
}
