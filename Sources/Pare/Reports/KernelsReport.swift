import Foundation

/// `report: kernels`: the sparse kernel against dense sgemm / sgemv on random weights
/// (`weight` variants × `bench: kernels` evaluations at T tokens), and end-to-end decoding time
/// of pruned models on the dense and the sparse kernels (evaluations with `kernels`).
enum KernelsReport {
    static func make(_ cells: ReportCells) -> ReportDocument {
        var doc = ReportDocument()
        let bench = cells.all.filter { $0.kernel != nil }
        var shapes: [String] = []
        for c in bench where !shapes.contains(c.inputs.variant.shape ?? "") { shapes.append(c.inputs.variant.shape ?? "") }
        let tokens = Array(Set(bench.compactMap { $0.inputs.evaluation.tokens })).sorted()
        let unstructured = { (c: ReportCell.Result) in c.inputs.variant.pattern == nil }
        let s = { (c: ReportCell.Result) in c.inputs.variant.sparsity ?? 0 }
        let pct = { (x: Double) in String(format: "%.0f %%", x * 100) }

        for shape in shapes {
            let of = bench.filter { $0.inputs.variant.shape == shape }
            let curve = { (t: Int) in of.filter { unstructured($0) && $0.inputs.evaluation.tokens == t }.sorted { s($0) < s($1) } }
            // 1. Break-even per T: the lowest grid sparsity from which the sparse kernel stays at least as fast.
            let even = tokens.compactMap { t -> String? in
                let c = curve(t)
                guard !c.isEmpty else { return nil }
                guard let first = c.indices.first(where: { i in c[i...].allSatisfy { $0.kernel!.speedup >= 1 } }) else {
                    return "T = \(t): never (best \(String(format: "%.2fx", c.map { $0.kernel!.speedup }.max() ?? 0)) at \(pct(s(c.max { $0.kernel!.speedup < $1.kernel!.speedup }!))))"
                }
                return "T = \(t): \(pct(s(c[first])))"
            }
            // The same against Pare's own dense kernel where it beats BLAS (what `--kernels dense` runs).
            let evenOwn = tokens.compactMap { t -> String? in
                let c = curve(t).filter { $0.kernel!.speedupVsPareDense != nil }
                guard !c.isEmpty else { return nil }
                guard let first = c.indices.first(where: { i in c[i...].allSatisfy { $0.kernel!.speedupVsPareDense! >= 1 } }) else { return "T = \(t): never" }
                return "T = \(t): \(pct(s(c[first])))"
            }
            if !even.isEmpty {
                doc.findings.append("On a \(shape) weight the sparse kernel is at least as fast as OpenBLAS from these sparsities on: "
                                    + even.joined(separator: ", ")
                                    + (evenOwn.isEmpty ? "." : "; against Pare's packed dense kernel, where that beats OpenBLAS: " + evenOwn.joined(separator: ", ") + "."))
            }
            if let top = of.max(by: { $0.kernel!.speedup < $1.kernel!.speedup }) {
                doc.findings.append(String(format: "The largest speedup on %@ is %.2fx, at %@ and T = %d (%@ against %@).", shape,
                                           top.kernel!.speedup, top.inputs.variant.pattern ?? pct(s(top)), top.inputs.evaluation.tokens ?? 1,
                                           top.kernel!.kernel, top.kernel!.denseRoutine))
            }
            let nm = of.filter { !unstructured($0) }.sorted { ($0.inputs.evaluation.tokens ?? 0) < ($1.inputs.evaluation.tokens ?? 0) }
            if !nm.isEmpty {
                doc.findings.append("N:M on \(shape): " + nm.map { String(format: "%@ at T = %d %.2fx", $0.inputs.variant.pattern ?? "",
                                                                                 $0.inputs.evaluation.tokens ?? 1, $0.kernel!.speedup) }
                    .joined(separator: ", ") + ".")
            }
            doc.plots.append(.init(file: "speedup-vs-sparsity-\(shape).svg",
                                   caption: "\(shape): sparse kernel speedup over dense (sgemv at T = 1, sgemm above) against sparsity, per tokens T; 1 = break-even",
                                   svg: LinePlot(title: "Sparse kernel speedup, \(shape) weight", x: PlotAxis("sparsity (%)", range: 0...100),
                                                 y: PlotAxis("speedup over dense (log scale)", log: true),
                                                 series: tokens.map { t in PlotSeries("T = \(t)", curve(t).map { (s($0) * 100, $0.kernel!.speedup) }) }
                                                     .filter { !$0.points.isEmpty }).svg))
            // The same cells the other way round: speedup against T, one series per sparsity or pattern.
            let levels = of.filter(unstructured).map(s).reduce(into: [Double]()) { if !$0.contains($1) { $0.append($1) } }.sorted()
            let byLevel = levels.map { x in
                PlotSeries(pct(x), of.filter { unstructured($0) && s($0) == x }.sorted { ($0.inputs.evaluation.tokens ?? 1) < ($1.inputs.evaluation.tokens ?? 1) }
                    .map { (Double($0.inputs.evaluation.tokens ?? 1), $0.kernel!.speedup) })
            }
            let byPattern = of.compactMap { $0.inputs.variant.pattern }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.map { p in
                PlotSeries(p, of.filter { $0.inputs.variant.pattern == p }.sorted { ($0.inputs.evaluation.tokens ?? 1) < ($1.inputs.evaluation.tokens ?? 1) }
                    .map { (Double($0.inputs.evaluation.tokens ?? 1), $0.kernel!.speedup) })
            }
            doc.plots.append(.init(file: "speedup-vs-tokens-\(shape).svg",
                                   caption: "\(shape): sparse kernel speedup over dense against tokens per product T (both log scale), per sparsity or N:M pattern; 1 = break-even",
                                   svg: LinePlot(title: "Sparse kernel speedup against tokens, \(shape) weight",
                                                 x: PlotAxis("tokens per product T (log scale)", log: true),
                                                 y: PlotAxis("speedup over dense (log scale)", log: true),
                                                 series: (byLevel + byPattern).filter { !$0.points.isEmpty }).svg))
            let columns = of.filter(unstructured).map(s).reduce(into: [Double]()) { if !$0.contains($1) { $0.append($1) } }.sorted()
            let patterns = of.compactMap { $0.inputs.variant.pattern }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            var map = HeatMap(title: "Speedup over dense, \(shape)", rows: tokens.map { "T = \($0)" },
                              columns: columns.map(pct) + patterns,
                              values: tokens.map { t in
                                  columns.map { x in of.first { unstructured($0) && s($0) == x && $0.inputs.evaluation.tokens == t }?.kernel?.speedup }
                                  + patterns.map { p in of.first { $0.inputs.variant.pattern == p && $0.inputs.evaluation.tokens == t }?.kernel?.speedup }
                              },
                              rowLabel: "tokens per product", columnLabel: "sparsity or pattern", valueLabel: "speedup")
            map.format = "%.2f"
            doc.plots.append(.init(file: "speedup-heatmap-\(shape).svg", caption: "\(shape): speedup over dense per tokens and sparsity (above 1: sparse is faster)", svg: map.svg))
        }

        // End-to-end decoding, dense against sparse kernels.
        let decode = cells.all.filter { $0.kernel == nil && $0.inputs.evaluation.kernels != nil }
        let variants = decode.map(\.variantLabel).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let pairs = variants.compactMap { v -> (String, ReportCell.Result, ReportCell.Result)? in
            guard let d = decode.first(where: { $0.variantLabel == v && $0.inputs.evaluation.kernels == "dense" }),
                  let sp = decode.first(where: { $0.variantLabel == v && $0.inputs.evaluation.kernels == "sparse" }) else { return nil }
            return (v, d, sp)
        }
        if !pairs.isEmpty {
            doc.findings.append("End to end, decoding the test set on the sparse kernels against the dense kernel: "
                                + pairs.map { String(format: "%@ %.2f s against %.2f s (%.2fx)", $0.0, $0.2.evaluationSeconds,
                                                     $0.1.evaluationSeconds, $0.1.evaluationSeconds / $0.2.evaluationSeconds) }
                                    .joined(separator: ", ")
                                + (pairs.allSatisfy { $0.1.meanNFE == $0.2.meanNFE && $0.1.macroAccuracy == $0.2.macroAccuracy }
                                   ? ". Both kernels give the same accuracy and NFE (" + pairs.map { String(format: "%.2f", $0.1.meanNFE) }.joined(separator: ", ")
                                     + "); time grows with sparsity as the pruned models need more forward passes."
                                   : ". The kernels' accuracy or NFE differ: " + pairs.map { String(format: "%@ NFE %.2f against %.2f", $0.0, $0.2.meanNFE, $0.1.meanNFE) }.joined(separator: ", ") + "."))
            let x = { (c: ReportCell.Result) in (c.sparsity ?? c.inputs.variant.sparsity ?? 0) * 100 }
            doc.plots.append(.init(file: "decode-time.svg", caption: "Decoding time of the test set against sparsity, dense and sparse kernels",
                                   svg: LinePlot(title: "End-to-end decoding time", x: PlotAxis("sparsity of the block linears (%)", range: 0...100),
                                                 y: PlotAxis("decoding time of the test set (s)"),
                                                 series: ["dense", "sparse"].map { k in
                                                     PlotSeries("\(k) kernels", pairs.map { k == "dense" ? $0.1 : $0.2 }.map { (x($0), $0.evaluationSeconds) })
                                                 }).svg))
        }
        doc.notes.append("Times are single measurements (each a median of 3 rounds) on the machine that ran the cells; a busy machine makes them noisy.")
        return doc
    }
}
