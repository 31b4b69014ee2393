import ArgumentParser
import Foundation
import Pare

struct DropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drop",
        abstract: "Drop whole blocks, named or ranked by block influence, angular distance or measured NLL.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Blocks to drop, e.g. 3,5-7 (no calibration is read).") var layers: String?
    @Option(help: "How many blocks to drop, chosen by --by.") var count: Int?
    @Option(help: "block-influence, angular or measured.") var by: DepthCriterion = .blockInfluence
    @Flag(help: "Print every candidate's score and write nothing.") var rank = false
    @OptionGroup var calibrationOptions: CalibrationArguments
    @Option(help: "Output file (default: <model>.drop-<blocks>.h5 in the current folder).") var output: String?

    func validate() throws {
        if (layers == nil) == (count == nil) && !rank { throw ValidationError("give exactly one of --layers or --count") }
        if layers != nil && count != nil { throw ValidationError("give exactly one of --layers or --count") }
        if let c = count { try requireRange("--count", c, 1...ModelConfig.maxLayers) }
    }

    func run() throws {
        try runReportingErrors {
            let path = modelOptions.resolvedPath()
            let loaded = try modelOptions.load()
            let model = loaded.weights
            // Named blocks need no calibration: its text is read only to rank or select.
            let selection = { DepthSelection(criterion: by, calibration: try calibrationOptions.calibrationSet(loaded)) }
            if rank {
                let scores = try selection().scores(model: model, count: count ?? 1)
                let label = by == .angular ? "start" : "block"
                if modelOptions.json {
                    printJSON(["criterion": by.rawValue, "run": count ?? 1, "scores": scores])
                } else {
                    print("\(label)  \(by.rawValue) score (lower = dropped first)")
                    for (i, s) in scores.enumerated() { print(String(format: "%5d  %.6f", i, s)) }
                }
                return
            }
            let dropped = try layers.map { try BlockDropper.parseLayers($0) } ?? selection().select(count: count!, model: model, progress: log)
            let file = output ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
                + ".drop-" + dropped.map(String.init).joined(separator: "_") + ".h5"
            try BlockDropper.drop(dropped, from: loaded, criterion: layers == nil ? by.rawValue : nil, writingTo: file)
            if modelOptions.json {
                printJSON(["output": file, "dropped": dropped, "n_layers": model.blockCount - dropped.count])
            } else {
                print("dropped blocks \(dropped.map(String.init).joined(separator: ", ")) of \(model.blockCount); wrote \(file)")
            }
        }
    }
}

extension DepthCriterion: ExpressibleByArgument {}
