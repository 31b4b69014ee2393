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
        try CheckpointFolder.save(model: model, optimizer: optimizer, tokenizer: .char(vocab: CharTokenizer.referenceVocab),
                                  state: state, to: directory(for: output))
    }

    public static func load(output: String) throws -> (LLaDAModel, AdamW, TrainingState) {
        let dir = directory(for: output)
        let state = try CheckpointFolder.loadState(TrainingState.self, from: dir)
        let (model, loaded) = try CheckpointFolder.loadModel(from: dir)
        var optimizer = loaded
        optimizer.step = state.step
        return (model, optimizer, state)
    }
}

/// A folder of pare-dlm files (a model, its AdamW moments, any extra tensor sets of the model's
/// shape, such as masks) and a `state.json`, written whole to a temporary folder and swapped
/// into place: the previous checkpoint is removed only after the new one is complete.
/// The folder follows Pare's output rules (`OutputPath`).
public enum CheckpointFolder {
    /// `save(model:optimizer:tokenizer:...)` with a character tokenizer.
    public static func save<State: Encodable>(model: LLaDAModel, optimizer: AdamW, vocab: [String],
                                              extra: [String: LLaDAModel] = [:], state: State, to dir: String) throws {
        try save(model: model, optimizer: optimizer, tokenizer: .char(vocab: vocab), extra: extra, state: state, to: dir)
    }

    public static func save<State: Encodable>(model: LLaDAModel, optimizer: AdamW, tokenizer: StoredTokenizer,
                                              extra: [String: LLaDAModel] = [:], state: State, to dir: String) throws {
        let output = try OutputPath(dir, kind: .folder)
        do {
            let tmp = try output.createTemporaryFolder()
            try model.checkpoint(tokenizer: tokenizer, provenance: []).save(to: tmp + "/model.h5", dtype: .float32)
            try optimizer.m.checkpoint(tokenizer: tokenizer, provenance: [#"{"op": "adamw-moment", "moment": 1}"#])
                .save(to: tmp + "/adam-m.h5", dtype: .float32)
            try optimizer.v.checkpoint(tokenizer: tokenizer, provenance: [#"{"op": "adamw-moment", "moment": 2}"#])
                .save(to: tmp + "/adam-v.h5", dtype: .float32)
            for (name, tensors) in extra.sorted(by: { $0.key < $1.key }) {
                try tensors.checkpoint(tokenizer: tokenizer, provenance: []).save(to: tmp + "/\(name).h5", dtype: .float32)
            }
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(enc.encode(state), to: tmp + "/state.json")
            try output.commit()
        } catch {
            output.discard()
            throw error
        }
    }

    /// The saved state, after restoring a checkpoint that a kill left stepped aside (see
    /// `OutputPath.restoreSteppedAside`): a missing folder with its previous version next to it.
    public static func loadState<State: Decodable>(_ type: State.Type, from dir: String) throws -> State {
        OutputPath.restoreSteppedAside(dir)
        guard FileManager.default.fileExists(atPath: dir + "/state.json") else {
            throw TrainingError.state(dir, "no checkpoint to resume from")
        }
        do {
            return try JSONDecoder().decode(State.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/state.json")))
        } catch {
            throw TrainingError.state(dir + "/state.json", "unreadable state: \(error)")
        }
    }

    /// The model and its optimizer moments (the optimizer's step count is the caller's).
    public static func loadModel(from dir: String) throws -> (LLaDAModel, AdamW) {
        let model = try loadTensors("model", from: dir)
        var optimizer = AdamW(like: model)
        optimizer.m = try loadTensors("adam-m", from: dir)
        optimizer.v = try loadTensors("adam-v", from: dir)
        return (model, optimizer)
    }

    /// One saved tensor set (`model`, `adam-m`, `adam-v` or an extra one) by name.
    public static func loadTensors(_ name: String, from dir: String) throws -> LLaDAModel {
        try LLaDAModel(checkpoint: Checkpoint.load(from: dir + "/\(name).h5"))
    }
}
