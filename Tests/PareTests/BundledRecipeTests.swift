import Foundation
import Testing
@testable import Pare

/// The bundled model's recipe chain (`make model`): four committed recipes whose stages must
/// hand weights on in the order the Makefile runs them, all with the bundled model's shape.
/// Catches a recipe edited out of step with the others, the Makefile, or the committed model.
@Suite struct BundledRecipeTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { repository.appendingPathComponent(relative).path }

    /// (recipe, output) in `make model` order.
    static let stages = [
        ("experiments/pare-tiny-kv1.yaml", ".build/pare-tiny-kv1.h5"),
        ("experiments/pare-tiny-kv2.yaml", ".build/pare-tiny-kv2.h5"),
        ("experiments/pare-tiny-kv3.yaml", ".build/pare-tiny-kv3.h5"),
        ("experiments/pare-tiny.yaml", "models/pare-tiny.h5"),
    ]

    @Test func stagesChainIntoTheBundledModel() throws {
        let bundled = try CheckpointReader.inspect(path: Self.path("models/pare-tiny.h5"))
        let recipes = try Self.stages.map { try TrainingRecipe.load(path: Self.path($0.0)) }
        var previousOutput: String? = nil
        for ((recipePath, output), recipe) in zip(Self.stages, recipes) {
            #expect(recipe.initFrom == previousOutput, "\(recipePath) starts from \(recipe.initFrom ?? "scratch")")
            let differing = bundled.config.differences(from: recipe.modelConfig)
            #expect(differing.isEmpty, "\(recipePath): \(differing)")
            previousOutput = output
        }
        // The committed model's provenance records the same four stages, with their seeds and steps.
        let history = bundled.provenance.compactMap { entry in
            (try? JSONSerialization.jsonObject(with: Data(entry.utf8))) as? [String: Any]
        }.filter { $0["op"] as? String == "train" }
        #expect(history.count == Self.stages.count)
        for (((recipePath, _), recipe), entry) in zip(zip(Self.stages, recipes), history) {
            #expect(entry["steps"] as? Int == recipe.steps, "\(recipePath)")
            #expect((entry["seed"] as? NSNumber)?.uint64Value == recipe.seed, "\(recipePath)")
        }
    }

    @Test func makefileRunsTheStagesInOrder() throws {
        let makefile = try String(contentsOfFile: Self.path("Makefile"), encoding: .utf8)
        for (index, (recipePath, output)) in Self.stages.dropLast().enumerated() {
            var rule = "\(output): \(recipePath)"
            if index > 0 { rule += " \(Self.stages[index - 1].1)" }
            #expect(makefile.contains(rule), "Makefile lacks the rule `\(rule)`")
        }
        #expect(makefile.contains("train --config experiments/pare-tiny.yaml --output $(MODEL)"))
    }
}
