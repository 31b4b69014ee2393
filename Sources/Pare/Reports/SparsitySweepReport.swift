import Foundation

/// `report: sparsity-sweep`: pruning methods × unstructured sparsities (and N:M patterns),
/// under a likelihood evaluation (the first with `likelihood: true`) and the threshold sampler,
/// with the pruners' reconstruction error per block.
enum SparsitySweepReport {
    static let tolerance = 0.05

    static func make(_ cells: ReportCells) -> ReportDocument {
        var doc = ReportDocument()
        let main = { (e: ReportRecipe.Evaluation) in e.likelihood == true }
        let threshold = { (e: ReportRecipe.Evaluation) in e.samplerName == "threshold" && e.prophet != true }
        guard let dense = cells.filter({ $0.kind == "dense" }, main).first else {
            doc.notes.append("No dense cell with a likelihood evaluation: the findings compare every variant with it.")
            return doc
        }
        let denseThreshold = cells.filter({ $0.kind == "dense" }, threshold).first
        let unstructured = { (v: ReportRecipe.Variant) in v.kind == "prune" && (v.pattern ?? "unstructured") == "unstructured" }
        var methods: [String] = []
        for c in cells.all where unstructured(c.inputs.variant) && !methods.contains(c.inputs.variant.method ?? "") {
            methods.append(c.inputs.variant.method ?? "")
        }
        func curve(_ m: String, _ e: (ReportRecipe.Evaluation) -> Bool) -> [ReportCell.Result] {
            cells.filter({ unstructured($0) && $0.method == m }, e).sorted { ($0.inputs.variant.sparsity ?? 0) < ($1.inputs.variant.sparsity ?? 0) }
        }
        let d = dense.macroAccuracy
        let s = { (c: ReportCell.Result) in c.inputs.variant.sparsity ?? 0 }
        let pct = { (x: Double) in String(format: "%.0f %%", x * 100) }

        if !methods.isEmpty {
            // 1. How far each method goes within the tolerance.
            let kept = methods.map { m -> String in
                var last = 0.0
                for c in curve(m, main) { if c.macroAccuracy >= d - tolerance { last = s(c) } else { break } }
                return "\(pct(last)) with \(m)"
            }
            doc.findings.append("Dense accuracy is \(d.percent). Unstructured pruning keeps mean accuracy within \(Int(tolerance * 100)) points "
                                + "of it up to " + kept.joined(separator: ", ") + " sparsity (the last grid point before the first larger loss).")
            // 2. The best method at 50 % and 70 %.
            let at = [0.5, 0.7].compactMap { target -> String? in
                let row = methods.compactMap { m in curve(m, main).first { abs(s($0) - target) < 1e-9 }.map { (m, $0.macroAccuracy) } }
                guard let top = row.max(by: { $0.1 < $1.1 }), let low = row.min(by: { $0.1 < $1.1 }), row.count > 1 else { return nil }
                return "at \(pct(target)) \(top.0) keeps \(top.1.percent) and \(low.0) \(low.1.percent)"
            }
            // SEFT repairs of pruned models, against the same pruner and sparsity without it.
            let repaired = seftCells(cells, main).compactMap { c -> String? in
                let v = c.inputs.variant
                guard let plain = curve(v.method ?? "", main).first(where: { abs(s($0) - (v.sparsity ?? -1)) < 1e-9 }) else { return nil }
                return "\(v.method ?? "") \(pct(s(c))) from \(plain.macroAccuracy.percent) to \(c.macroAccuracy.percent)"
            }
            var line = at.isEmpty ? "" : "The pruner matters more as sparsity grows: " + at.joined(separator: "; ") + "."
            if !repaired.isEmpty {
                let steps = seftCells(cells, main).first?.inputs.variant.steps ?? 0
                line += (line.isEmpty ? "" : " ") + "SEFT fine-tuning for \(steps) steps raises mean accuracy of " + repaired.joined(separator: " and ") + "."
            }
            if !line.isEmpty { doc.findings.append(line) }
            // 3. N:M against unstructured at the same 50 %.
            let nm = cells.filter({ $0.kind == "prune" && ($0.pattern ?? "unstructured") != "unstructured" }, main)
            let gaps = nm.compactMap { c -> String? in
                guard let u = curve(c.inputs.variant.method ?? "", main).first(where: { abs(s($0) - 0.5) < 1e-9 }),
                      c.inputs.variant.pattern == "2:4" || c.inputs.variant.pattern == "4:8" else { return nil }
                return String(format: "%@ %@ %@ (%.1f points against unstructured 50 %%)", c.inputs.variant.method ?? "",
                              c.inputs.variant.pattern ?? "", c.macroAccuracy.percent, (c.macroAccuracy - u.macroAccuracy) * 100)
            }
            if !gaps.isEmpty { doc.findings.append("Structured 50 % costs accuracy against unstructured 50 %: " + gaps.joined(separator: ", ") + ".") }
            // 4. NFE.
            if let dt = denseThreshold {
                let parts = methods.compactMap { m -> String? in
                    guard let c = curve(m, threshold).last else { return nil }
                    return String(format: "%.2f with %@ at %@", c.meanNFE, m, pct(s(c)))
                }
                let at50 = methods.compactMap { m in curve(m, threshold).first { abs(s($0) - 0.5) < 1e-9 }?.meanNFE }
                // "Costs" only when every pruner at 50 % needs more steps than dense.
                let costs = !at50.isEmpty && at50.allSatisfy { $0 > dt.meanNFE }
                var line = String(format: "%@the threshold sampler needs %.2f NFE per answer dense",
                                  costs ? "Pruning costs parallel steps: " : "Parallel steps under pruning: ", dt.meanNFE)
                if !at50.isEmpty { line += String(format: ", %.2f-%.2f at 50 %%", at50.min()!, at50.max()!) }
                doc.findings.append(line + ", and " + parts.joined(separator: ", ") + ".")
            }
            // 5. Reconstruction error.
            let withErrors = cells.filter({ unstructured($0) }, main).filter { $0.layers != nil }
            let sparsities = Array(Set(withErrors.map(s))).sorted()
            var wins: [String: Int] = [:]
            for x in sparsities {
                let row = withErrors.filter { s($0) == x }.map { ($0.inputs.variant.method ?? "", meanError($0)) }
                if let best = row.min(by: { $0.1 < $1.1 }) { wins[best.0, default: 0] += 1 }
            }
            if let top = wins.max(by: { $0.value < $1.value }) {
                var line = "\(top.key) has the lowest mean reconstruction error at \(top.value) of \(sparsities.count) sparsities"
                if let worstBlock = worstBlock(withErrors) { line += "; block \(worstBlock.block) has the largest error averaged over every pruned variant (\(String(format: "%.3f", worstBlock.error)))" }
                doc.findings.append(line + ".")
            }
        }

        // Plots.
        if !methods.isEmpty {
            let sAxis = PlotAxis("sparsity of the block linears (%)", range: 0...100)
            let withDense = { (m: String, e: (ReportRecipe.Evaluation) -> Bool, dc: ReportCell.Result?, y: (ReportCell.Result) -> Double?) in
                PlotSeries(m, ((dc.map { [$0] } ?? []) + curve(m, e)).compactMap { c in y(c).map { (s(c) * 100, $0) } })
            }
            // SEFT-repaired models as their own series (one per pruner and step count).
            let seftSeries = { (e: (ReportRecipe.Evaluation) -> Bool, y: (ReportCell.Result) -> Double?) -> [PlotSeries] in
                var names: [String] = []
                let of = seftCells(cells, e)
                for c in of where !names.contains(seftName(c)) { names.append(seftName(c)) }
                return names.map { n in PlotSeries(n, of.filter { seftName($0) == n }.compactMap { c in y(c).map { (s(c) * 100, $0) } }) }
            }
            doc.plots.append(.init(file: "accuracy-vs-sparsity.svg", caption: "Mean accuracy (fixed sampler) against unstructured sparsity, per pruner, and after SEFT fine-tuning",
                                   svg: LinePlot(title: "Accuracy against sparsity", x: sAxis, y: PlotAxis("mean accuracy (%)", range: 0...100),
                                                 series: methods.map { withDense($0, main, dense) { $0.macroAccuracy * 100 } }
                                                     + seftSeries(main) { $0.macroAccuracy * 100 }).svg))
            doc.plots.append(.init(file: "nll-vs-sparsity.svg", caption: "NLL per answer token (log scale) against unstructured sparsity, per pruner, and after SEFT fine-tuning",
                                   svg: LinePlot(title: "Likelihood against sparsity", x: sAxis, y: PlotAxis("NLL per answer token (log scale)", log: true),
                                                 series: methods.map { withDense($0, main, dense) { $0.nllPerToken } } + seftSeries(main) { $0.nllPerToken }).svg))
            if let dt = denseThreshold {
                doc.plots.append(.init(file: "nfe-vs-sparsity.svg", caption: "Mean NFE per answer under \(dt.evaluationLabel) against unstructured sparsity, per pruner",
                                       svg: LinePlot(title: "Forward passes per answer, threshold sampler", x: sAxis, y: PlotAxis("mean NFE per answer"),
                                                     series: methods.map { withDense($0, threshold, dt) { $0.meanNFE } } + seftSeries(threshold) { $0.meanNFE }).svg))
            }
            for m in methods {
                let row = curve(m, main).filter { $0.layers != nil }
                guard let blocks = row.first?.layers.map({ Set($0.map(\.block)).sorted() }), !blocks.isEmpty else { continue }
                var map = HeatMap(title: "Reconstruction error per block, \(m)", rows: blocks.map { "block \($0)" },
                                  columns: row.map { pct(s($0)) },
                                  values: blocks.map { b in row.map { c in blockError(c, b) } },
                                  rowLabel: "block (mean of its 7 linears)", columnLabel: "sparsity", valueLabel: "rel. error")
                map.format = "%.3f"
                doc.plots.append(.init(file: "reconstruction-error-\(m).svg",
                                       caption: "\(m): relative reconstruction error ||X(W'-W)ᵀ|| / ||XWᵀ|| per block (mean over its seven linears) and sparsity",
                                       svg: map.svg))
            }
        }
        return doc
    }

    /// The seft variants (pruned, then fine-tuned) under an evaluation, by sparsity.
    static func seftCells(_ cells: ReportCells, _ e: (ReportRecipe.Evaluation) -> Bool) -> [ReportCell.Result] {
        cells.filter({ $0.kind == "seft" }, e).sorted { ($0.inputs.variant.sparsity ?? 0) < ($1.inputs.variant.sparsity ?? 0) }
    }

    /// A seft series' name: "wanda + seft 200 steps".
    static func seftName(_ c: ReportCell.Result) -> String {
        let v = c.inputs.variant
        return "\(v.method ?? "?")\((v.pattern ?? "unstructured") == "unstructured" ? "" : " " + v.pattern!) + seft \(v.steps ?? 0) steps"
    }

    static func meanError(_ c: ReportCell.Result) -> Double {
        let l = c.layers ?? []
        // Report cells always calibrate, so every error is measured.
        return l.compactMap(\.reconstructionError).reduce(0, +) / Double(max(1, l.count))
    }

    static func blockError(_ c: ReportCell.Result, _ block: Int) -> Double? {
        let l = (c.layers ?? []).filter { $0.block == block }
        return l.isEmpty ? nil : l.compactMap(\.reconstructionError).reduce(0, +) / Double(l.count)
    }

    static func worstBlock(_ cells: [ReportCell.Result]) -> (block: Int, error: Double)? {
        let blocks = Set(cells.flatMap { ($0.layers ?? []).map(\.block) }).sorted()
        return blocks.map { b in (b, cells.compactMap { blockError($0, b) }.reduce(0, +) / Double(max(1, cells.count))) }
            .max { $0.1 < $1.1 }
    }
}
