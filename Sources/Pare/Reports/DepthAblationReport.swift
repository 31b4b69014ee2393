import Foundation

/// `report: depth-ablation`: drop k blocks by each criterion (k = 0 is the dense model), and
/// drop single blocks, under a likelihood evaluation (the first with `likelihood: true`, also
/// the generation accuracy), the threshold sampler and Prophet.
enum DepthAblationReport {
    /// Accuracy within this many points of dense counts as kept.
    static let tolerance = 0.05

    static func make(_ cells: ReportCells) -> ReportDocument {
        var doc = ReportDocument()
        let main = { (e: ReportRecipe.Evaluation) in e.likelihood == true }
        let threshold = { (e: ReportRecipe.Evaluation) in e.samplerName == "threshold" && e.prophet != true }
        let prophet = { (e: ReportRecipe.Evaluation) in e.prophet == true }
        guard let dense = cells.filter({ $0.kind == "dense" }, main).first else {
            doc.notes.append("No dense cell with a likelihood evaluation: the findings compare every variant with it.")
            return doc
        }
        let denseThreshold = cells.filter({ $0.kind == "dense" }, threshold).first
        let denseProphet = cells.filter({ $0.kind == "dense" }, prophet).first
        var criteria: [String] = []
        for c in cells.all where c.inputs.variant.kind == "drop" && c.inputs.variant.layers == nil {
            let by = c.inputs.variant.by ?? "?"
            if !criteria.contains(by) { criteria.append(by) }
        }
        // [criterion] -> cells by k, k = 0 being dense.
        func curve(_ by: String, _ evaluation: (ReportRecipe.Evaluation) -> Bool, _ denseCell: ReportCell.Result?) -> [(k: Int, cell: ReportCell.Result)] {
            let drops = cells.filter({ $0.kind == "drop" && $0.layers == nil && $0.by == by }, evaluation)
                .map { (k: $0.inputs.variant.count ?? 0, cell: $0) }.sorted { $0.k < $1.k }
            return (denseCell.map { [(k: 0, cell: $0)] } ?? []) + drops
        }
        let d = dense.macroAccuracy

        if !criteria.isEmpty {
            // 1. How far each criterion goes within the tolerance.
            let kept = criteria.map { by -> (String, Int) in
                var last = 0
                for p in curve(by, main, dense) where p.k > 0 {
                    if p.cell.macroAccuracy >= d - tolerance { last = p.k } else { break }
                }
                return (by, last)
            }
            if kept.allSatisfy({ $0.1 == 0 }) {
                doc.findings.append("No criterion drops even one block within \(Int(tolerance * 100)) points of dense accuracy (\(d.percent)): "
                                    + "every model with a block dropped loses more.")
            } else {
                doc.findings.append("Dense accuracy is \(d.percent). Dropping blocks keeps mean accuracy within "
                                    + "\(Int(tolerance * 100)) points of it up to " + kept.map { "k = \($0.1) by \($0.0)" }.joined(separator: ", ") + ".")
            }
            // 2. The best criterion per k.
            let ks = Set(criteria.flatMap { curve($0, main, nil).map(\.k) }).sorted()
            let best = ks.prefix(3).compactMap { k -> String? in
                let at = criteria.compactMap { by in curve(by, main, nil).first { $0.k == k }.map { (by, $0.cell.macroAccuracy) } }
                guard let top = at.max(by: { $0.1 < $1.1 }), let low = at.min(by: { $0.1 < $1.1 }) else { return nil }
                if top.1 == low.1 { return "at k = \(k) every criterion keeps \(top.1.percent)" }
                return "at k = \(k) \(top.0) keeps \(top.1.percent) (worst: \(low.0), \(low.1.percent))"
            }
            if !best.isEmpty {
                let lead = best.allSatisfy { $0.contains("every criterion") } ? "The criteria do not differ here: " : "Which blocks go matters: "
                doc.findings.append(lead + best.joined(separator: "; ") + ".")
            }
            // 3. Likelihood against generation.
            let drops = cells.filter({ $0.kind == "drop" }, main).filter { $0.nllPerToken != nil }
            if drops.count >= 3, let dn = dense.nllPerToken {
                let rho = RankCorrelation.spearman(drops.map { $0.nllPerToken! }, drops.map(\.macroAccuracy)) ?? 0
                let collapsed = drops.filter { $0.macroAccuracy < d / 2 }
                var s = String(format: "Likelihood and generation move together here: over %d dropped models the rank correlation of "
                               + "NLL per token and accuracy is %.2f", drops.count, rho)
                if let lowest = collapsed.map({ $0.nllPerToken! }).min() {
                    s += String(format: ", and every model whose accuracy fell below half of dense (%d of them) has NLL/token at least "
                                + "%.3f against dense %.4f (%.0fx)", collapsed.count, lowest, dn, lowest / max(dn, 1e-12))
                }
                if rho > -0.5 { s = s.replacingOccurrences(of: "move together here", with: "do not move together here") }
                doc.findings.append(s + ".")
            }
            // 4. Parallelism: NFE under the threshold sampler and Prophet.
            if let dt = denseThreshold {
                let thr = cells.filter({ $0.kind == "drop" && $0.layers == nil }, threshold)
                if let worst = thr.max(by: { $0.meanNFE < $1.meanNFE }) {
                    let k1 = thr.filter { $0.inputs.variant.count == 1 }.map(\.meanNFE)
                    // "Costs" only when dropping one block does raise the mean NFE.
                    let costs = !k1.isEmpty && k1.reduce(0, +) / Double(k1.count) > dt.meanNFE
                    var s = String(format: "%@the threshold sampler needs %.2f NFE per answer on the dense model, ",
                                   costs ? "Dropping blocks costs parallel steps: " : "Parallel steps as blocks go: ", dt.meanNFE)
                    if !k1.isEmpty { s += String(format: "%.2f on average after dropping one block, ", k1.reduce(0, +) / Double(k1.count)) }
                    s += String(format: "and up to %.2f (%@)", worst.meanNFE, worst.variantLabel)
                    if let dp = denseProphet {
                        let pr = cells.filter({ $0.kind == "drop" && $0.layers == nil }, prophet)
                        s += String(format: "; Prophet needs %.2f dense (accuracy %@) and up to %.2f", dp.meanNFE, dp.macroAccuracy.percent,
                                    pr.map(\.meanNFE).max() ?? dp.meanNFE)
                    }
                    // Decode order with one token per step: does losing depth make decoding more left to right?
                    let orders = cells.filter({ $0.kind == "drop" && $0.layers == nil }, main).compactMap(\.spearman)
                    if let ds = dense.spearman, !orders.isEmpty {
                        s += String(format: ". With one token per step the rank correlation of commit step with position is %.2f dense and "
                                    + "%.2f to %.2f over the dropped models", ds, orders.min()!, orders.max()!)
                    }
                    doc.findings.append(s + ".")
                }
            }
        }
        // 5. Which block each task needs (single-block drops).
        let singles = cells.filter({ $0.kind == "drop" && $0.layers != nil }, main)
        if !singles.isEmpty {
            // Per task, the blocks without which it falls below half its dense accuracy.
            let needs = cells.tasks.map { t -> String in
                let half = (ReportCells.accuracy(dense, t) ?? 0) / 2
                let blocks = singles.filter { (ReportCells.accuracy($0, t) ?? 0) < half }.map { $0.inputs.variant.layers! }
                return blocks.isEmpty ? "\(t) survives every single drop" : "\(t) without block \(blocks.joined(separator: ", "))"
            }
            let harmless = singles.filter { s in
                cells.tasks.allSatisfy { t in (ReportCells.accuracy(s, t) ?? 0) >= (ReportCells.accuracy(dense, t) ?? 0) - tolerance }
            }.map { $0.inputs.variant.layers! }
            var line = "Tasks need different blocks. A task falls below half its dense accuracy: " + needs.joined(separator: "; ") + ". "
            if harmless.isEmpty, let best = singles.max(by: { $0.macroAccuracy < $1.macroAccuracy }) {
                line += "No single block can go without costing some task more than \(Int(tolerance * 100)) points; the most dispensable is block "
                    + "\(best.inputs.variant.layers!) (mean accuracy \(best.macroAccuracy.percent) without it)."
            } else {
                line += "Dropping block \(harmless.joined(separator: " or ")) alone costs no task more than \(Int(tolerance * 100)) points."
            }
            doc.findings.append(line)
        }

        // Plots.
        if !criteria.isEmpty {
            let maxK = criteria.flatMap { curve($0, main, nil).map(\.k) }.max() ?? 1
            let kAxis = PlotAxis("blocks dropped (k)", range: 0...Double(maxK), integer: true)
            doc.plots.append(.init(file: "accuracy-vs-blocks-dropped.svg", caption: "Mean accuracy (fixed sampler, one token per step) against blocks dropped, per criterion",
                                   svg: LinePlot(title: "Accuracy as blocks are dropped", x: kAxis, y: PlotAxis("mean accuracy (%)", range: 0...100),
                                                 series: criteria.map { by in PlotSeries(by, curve(by, main, dense).map { (Double($0.k), $0.cell.macroAccuracy * 100) }) }).svg))
            doc.plots.append(.init(file: "likelihood-vs-generation.svg",
                                   caption: "Likelihood against generation: NLL per answer token (log) and accuracy of each dropped model, joined in order of k from the dense model",
                                   svg: LinePlot(title: "Likelihood against generation as blocks go",
                                                 x: PlotAxis("NLL per answer token (log scale)", log: true), y: PlotAxis("mean accuracy (%)", range: 0...100),
                                                 series: criteria.map { by in PlotSeries(by, curve(by, main, dense).compactMap { p in
                                                     p.cell.nllPerToken.map { ($0, p.cell.macroAccuracy * 100) } }) }).svg))
            doc.plots.append(.init(file: "spearman-vs-blocks-dropped.svg",
                                   caption: "Decode order with one token per step: rank correlation of commit step with position (1 = left to right) against blocks dropped, per criterion",
                                   svg: LinePlot(title: "Decode order as blocks are dropped", x: kAxis,
                                                 y: PlotAxis("Spearman, commit step vs position", range: -1...1),
                                                 series: criteria.map { by in PlotSeries(by, curve(by, main, dense).compactMap { p in
                                                     p.cell.spearman.map { (Double(p.k), $0) } }) }.filter { !$0.points.isEmpty }).svg))
            for (name, evaluation, denseCell, file) in [("threshold sampler", threshold, denseThreshold, "nfe-threshold-vs-blocks-dropped.svg"),
                                                        ("Prophet", prophet, denseProphet, "nfe-prophet-vs-blocks-dropped.svg")] where denseCell != nil {
                let label = denseCell!.evaluationLabel
                doc.plots.append(.init(file: file, caption: "Mean NFE per answer under \(label) against blocks dropped, per criterion",
                                       svg: LinePlot(title: "Forward passes per answer, \(name)", x: kAxis, y: PlotAxis("mean NFE per answer"),
                                                     series: criteria.map { by in PlotSeries(by, curve(by, evaluation, denseCell).map { (Double($0.k), $0.cell.meanNFE) }) }).svg))
            }
        }
        if !singles.isEmpty {
            let blocks = singles.map { $0.inputs.variant.layers! }
            var map = HeatMap(title: "Accuracy per task with one block dropped", rows: cells.tasks, columns: ["none"] + blocks.map { "block \($0)" },
                              values: cells.tasks.map { t in [ReportCells.accuracy(dense, t).map { $0 * 100 }] + singles.map { ReportCells.accuracy($0, t).map { $0 * 100 } } },
                              rowLabel: "task", columnLabel: "dropped block", valueLabel: "accuracy (%)")
            map.range = 0...100
            map.format = "%.0f"
            doc.plots.append(.init(file: "task-by-dropped-block.svg", caption: "Accuracy (%) per task with a single block dropped (\"none\": dense)", svg: map.svg))
        }
        return doc
    }
}
