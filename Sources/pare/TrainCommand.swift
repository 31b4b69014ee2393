import ArgumentParser
import Foundation
import Pare

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a DLM on the recipe's tasks from a YAML recipe (masked-diffusion loss).")

    @Option(help: "The recipe, e.g. experiments/pare-tiny.yaml.") var config: String
    @Option(help: "Model file to write (checkpoints go to OUTPUT.train/).") var output: String?
    @Flag(help: "Continue from the checkpoint in OUTPUT.train/.") var resume = false
    @Option(help: "Stop (with a checkpoint) after this many minutes; continue later with --resume.") var maxMinutes: Double?

    func run() throws {
        try runReportingErrors {
            let recipe = try TrainingRecipe.load(path: config)
            let out = output ?? "models/" + URL(fileURLWithPath: config).deletingPathExtension().lastPathComponent + ".h5"
            let trainer = resume ? try Trainer(resuming: recipe, output: out) : try Trainer(recipe: recipe, output: out)
            log("training \(trainer.model.parameterCount) parameters, \(recipe.steps) steps of \(recipe.batchSize)"
                + (recipe.initFrom.map { ", starting from \($0)" } ?? "")
                + (resume ? ", resuming at step \(trainer.state.step)" : ""))
            let finished = try trainer.run(maxSeconds: maxMinutes.map { $0 * 60 }, progress: log)
            if finished {
                log("wrote \(out)")
            }
        }
    }
}
