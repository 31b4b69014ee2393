import Foundation

/// `report: samplers`: accuracy against NFE for each model variant under every sampler
/// setting: fixed step budgets, threshold over a τ grid, factor over an f grid, Prophet.
enum SamplersReport {
    /// A setting within this many points of the variant's full-step accuracy counts as lossless.
    static let tolerance = 0.02

    /// The family a sampler setting belongs to (one plot series each).
    static func family(_ e: ReportRecipe.Evaluation) -> String {
        e.prophet == true ? "\(e.samplerName) + prophet" : e.samplerName
    }

    static func make(_ cells: ReportCells) -> ReportDocument {
        var doc = ReportDocument()
        var variants: [String] = []
        for c in cells.all where !variants.contains(c.variantLabel) { variants.append(c.variantLabel) }
        var families: [String] = []
        for c in cells.all where !families.contains(family(c.inputs.evaluation)) { families.append(family(c.inputs.evaluation)) }
        let of = { (v: String) in cells.all.filter { $0.variantLabel == v } }
        /// The reference setting: the fixed sampler with the most steps (one token per step).
        func reference(_ v: String) -> ReportCell.Result? {
            of(v).filter { $0.inputs.evaluation.samplerName == "fixed" && $0.inputs.evaluation.prophet != true }
                .max { $0.meanNFE < $1.meanNFE }
        }

        // 1. The cheapest lossless setting per variant.
        let cheapest = variants.compactMap { v -> String? in
            guard let ref = reference(v) else { return nil }
            let ok = of(v).filter { $0.macroAccuracy >= ref.macroAccuracy - tolerance }
            guard let best = ok.min(by: { $0.meanNFE < $1.meanNFE }) else { return nil }
            return String(format: "%@: %@ with %.2f NFE (%@; %@ with %.0f NFE)", v, best.evaluationLabel, best.meanNFE,
                          best.macroAccuracy.percent, ref.macroAccuracy.percent, ref.meanNFE)
        }
        if !cheapest.isEmpty {
            doc.findings.append("The fewest forward passes that keep accuracy within \(Int(tolerance * 100)) points of one token per step: "
                                + cheapest.joined(separator: "; ") + ".")
        }
        // 2. Compression against NFE at the same threshold.
        let thresholds = Set(cells.all.filter { $0.inputs.evaluation.samplerName == "threshold" && $0.inputs.evaluation.prophet != true }
            .compactMap { $0.inputs.evaluation.threshold ?? 0.9 })
        if let tau = thresholds.contains(0.9) ? 0.9 : thresholds.max() {
            let at = variants.compactMap { v in
                of(v).first { $0.inputs.evaluation.samplerName == "threshold" && $0.inputs.evaluation.prophet != true
                    && ($0.inputs.evaluation.threshold ?? 0.9) == tau }.map { (v, $0) }
            }
            if at.count > 1 {
                // The first variant is the reference (dense in every recipe); say "more" only when it is true.
                let more = at.dropFirst().allSatisfy { $0.1.meanNFE > at[0].1.meanNFE }
                doc.findings.append("At the same threshold τ = \(SVG.trim(tau)), "
                                    + (more ? "compressed models need more forward passes: " : "the forward passes per answer are: ")
                                    + at.map { String(format: "%@ %.2f NFE (%@)", $0.0, $0.1.meanNFE, $0.1.macroAccuracy.percent) }
                                        .joined(separator: ", ") + ".")
            }
        }
        // 3. Halving the fixed step budget.
        let halves = variants.compactMap { v -> String? in
            guard let ref = reference(v), case let steps = ref.inputs.evaluation.options.resolvedSteps,
                  let half = of(v).first(where: { $0.inputs.evaluation.samplerName == "fixed" && $0.inputs.evaluation.prophet != true
                      && $0.inputs.evaluation.steps == steps / 2 }) else { return nil }
            return String(format: "%@ %+.1f points", v, (half.macroAccuracy - ref.macroAccuracy) * 100)
        }
        if !halves.isEmpty {
            doc.findings.append("A fixed budget of half the steps (two tokens per step) changes accuracy by " + halves.joined(separator: ", ") + ".")
        }
        // 4. Prophet.
        let prophets = variants.compactMap { v -> String? in
            guard let ref = reference(v), let p = of(v).first(where: { $0.inputs.evaluation.prophet == true }) else { return nil }
            return String(format: "%@ %.2f NFE, %@ (%+.1f points)", v, p.meanNFE, p.macroAccuracy.percent, (p.macroAccuracy - ref.macroAccuracy) * 100)
        }
        if !prophets.isEmpty { doc.findings.append("Prophet's early commit on the fixed sampler: " + prophets.joined(separator: ", ") + ".") }
        // 5. Decode order with one token per step: how left to right each model decodes.
        let orders = variants.compactMap { v -> (String, ReportCell.Result)? in
            guard let ref = reference(v), ref.spearman != nil, ref.leftmostShare != nil else { return nil }
            return (v, ref)
        }
        if let (denseName, dense) = orders.first {
            var line = String(format: "With one token per step, %@ commits %.0f %% of its tokens at the leftmost masked position "
                              + "(rank correlation of commit step with position %.2f)", denseName, dense.leftmostShare! * 100, dense.spearman!)
            let others = orders.dropFirst().map { v, c in
                String(format: "%@ %.0f %% (%.2f, %@ left to right)", v, c.leftmostShare! * 100, c.spearman!,
                       c.spearman! > dense.spearman! ? "more" : "less")
            }
            if !others.isEmpty { line += "; " + others.joined(separator: ", ") }
            doc.findings.append(line + ".")
        }
        // 6. SEFT: each repaired variant against the same pruning without repair.
        let repairs = variants.compactMap { v -> String? in
            guard let seft = of(v).first?.inputs.variant, seft.kind == "seft" else { return nil }
            var pruned = seft
            pruned.kind = "prune"; pruned.steps = nil
            guard let before = reference(pruned.label), let after = reference(v) else { return nil }
            var line = String(format: "%@ takes %@ from %@ to %@ with one token per step", v, pruned.label,
                              before.macroAccuracy.percent, after.macroAccuracy.percent)
            let atTau = { (name: String) in
                of(name).first { $0.inputs.evaluation.samplerName == "threshold" && $0.inputs.evaluation.prophet != true
                    && ($0.inputs.evaluation.threshold ?? 0.9) == 0.9 }
            }
            if let b = atTau(pruned.label), let a = atTau(v) {
                line += String(format: ", and at τ = 0.9 from %.2f NFE (%@) to %.2f NFE (%@)", b.meanNFE, b.macroAccuracy.percent,
                               a.meanNFE, a.macroAccuracy.percent)
            }
            return line
        }
        if !repairs.isEmpty { doc.findings.append("SEFT fine-tuning: " + repairs.joined(separator: "; ") + ".") }

        // Plots: one per variant, a series per sampler family; then one per family across variants.
        let nfeAxis = PlotAxis("mean NFE per answer (log scale)", log: true)
        let accAxis = PlotAxis("mean accuracy (%)", range: 0...100)
        for (n, v) in variants.enumerated() {
            let series = families.map { f in
                PlotSeries(f, of(v).filter { family($0.inputs.evaluation) == f }.sorted { $0.meanNFE < $1.meanNFE }
                    .map { ($0.meanNFE, $0.macroAccuracy * 100) }, connected: !f.contains("prophet"))
            }.filter { !$0.points.isEmpty }
            doc.plots.append(.init(file: "accuracy-vs-nfe-\(n).svg", caption: "\(v): accuracy against NFE per sampler setting",
                                   svg: LinePlot(title: "Accuracy against NFE: \(v)", x: nfeAxis, y: accAxis, series: series).svg))
        }
        for f in families where f == "threshold" || f == "factor" {
            let series = variants.map { v in
                PlotSeries(v, of(v).filter { family($0.inputs.evaluation) == f }.sorted { $0.meanNFE < $1.meanNFE }
                    .map { ($0.meanNFE, $0.macroAccuracy * 100) })
            }.filter { !$0.points.isEmpty }
            doc.plots.append(.init(file: "\(f)-grid-by-model.svg", caption: "The \(f) sampler's grid on each model: accuracy against NFE",
                                   svg: LinePlot(title: "\(f.capitalized) sampler on dense and compressed models", x: nfeAxis, y: accAxis, series: series).svg))
        }
        // Decode order against NFE along the threshold grid, one series per model.
        let grid = { (v: String) in
            of(v).filter { family($0.inputs.evaluation) == "threshold" }.sorted { $0.meanNFE < $1.meanNFE }
        }
        for (file, title, label, value) in [("spearman-vs-nfe.svg", "Decode order: rank correlation of commit step with position",
                                             "Spearman, commit step vs position (1 = left to right)", { (c: ReportCell.Result) in c.spearman }),
                                            ("leftmost-vs-nfe.svg", "Decode order: commits at the leftmost masked position",
                                             "commits at the leftmost masked position (%)", { (c: ReportCell.Result) in c.leftmostShare.map { $0 * 100 } })] {
            let series = variants.map { v in PlotSeries(v, grid(v).compactMap { c in value(c).map { (c.meanNFE, $0) } }) }.filter { !$0.points.isEmpty }
            if series.isEmpty { continue }
            doc.plots.append(.init(file: file, caption: "\(title), against NFE over the threshold sampler's τ grid, per model",
                                   svg: LinePlot(title: title, x: nfeAxis,
                                                 y: PlotAxis(label, range: file.hasPrefix("spearman") ? -1...1 : 0...100), series: series).svg))
        }
        return doc
    }
}
