import Foundation

/// One axis of a plot: its label, linear or log scale, and optionally a fixed range.
public struct PlotAxis: Sendable {
    public var label: String
    public var log = false
    /// Fixed range; nil fits the data (widened to nice tick values).
    public var range: ClosedRange<Double>? = nil
    /// Whole-number ticks only (counts such as blocks dropped).
    public var integer = false

    public init(_ label: String, log: Bool = false, range: ClosedRange<Double>? = nil, integer: Bool = false) {
        self.label = label; self.log = log; self.range = range; self.integer = integer
    }

    /// Tick values covering `lo...hi`: 1-2-5 steps on a linear axis, powers of ten on a log
    /// axis (with 2 and 5 between them when the data spans fewer than three decades).
    static func ticks(_ lo: Double, _ hi: Double, log: Bool, integer: Bool = false, target: Int = 6) -> [Double] {
        if log && hi < lo * 10 {
            // Less than a decade: evenly spaced values read better than one or two powers of ten.
            return ticks(lo, hi, log: false, target: target).filter { $0 > 0 }
        }
        if log {
            let a = Foundation.floor(Foundation.log10(lo)), b = Foundation.ceil(Foundation.log10(hi))
            let mantissas: [Double] = b - a < 3 ? [1, 2, 5] : [1]
            var out: [Double] = []
            var e = a
            while e <= b {
                for m in mantissas {
                    let v = m * Foundation.pow(10, e)
                    if v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) { out.append(v) }
                }
                e += 1
            }
            return out
        }
        let raw = niceStep((hi - lo) / Double(max(1, target - 1)))
        let step = integer ? max(1, raw) : raw
        var out: [Double] = []
        var k = Foundation.ceil(lo / step - 1e-9)
        while k * step <= hi + step * 1e-9 {
            // Through a short decimal so that 3 * 0.2 is 0.6, not 0.6000000000000001.
            let v = Double(String(format: "%.12g", k * step)) ?? k * step
            out.append(v == 0 ? 0 : v)      // never "-0"
            k += 1
        }
        return out
    }

    /// The smallest of 1, 2, 5 times a power of ten that is at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let p = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
        for m in [1.0, 2, 5, 10] where m * p >= raw * (1 - 1e-9) { return m * p }
        return 10 * p
    }

    /// The range the axis draws: the fixed range, or the data's range widened to nice ticks
    /// (a single value gets some room on both sides; a log axis keeps positive values only).
    func resolved(_ values: [Double]) -> ClosedRange<Double> {
        if let range { return range }
        let data = values.filter { $0.isFinite && (!log || $0 > 0) }
        guard var lo = data.min(), var hi = data.max() else { return log ? 1...10 : 0...1 }
        if log {
            if lo == hi { lo /= 2; hi *= 2 }
            // Out to the nearest 1, 2 or 5 times a power of ten on either side.
            let steps = [1.0, 2, 5, 10]
            let a = Foundation.pow(10, Foundation.floor(Foundation.log10(lo))), b = Foundation.pow(10, Foundation.floor(Foundation.log10(hi)))
            let low = steps.last { $0 * a <= lo * (1 + 1e-9) }! * a
            let high = steps.first { $0 * b >= hi * (1 - 1e-9) }! * b
            return low...high
        }
        if lo == hi { lo -= abs(lo) > 0 ? abs(lo) * 0.1 : 1; hi += abs(hi) > 0 ? abs(hi) * 0.1 : 1 }
        let step = Self.niceStep((hi - lo) / 5)
        return (Foundation.floor(lo / step + 1e-9) * step)...(Foundation.ceil(hi / step - 1e-9) * step)
    }

    /// A tick label: as few digits as the tick step needs.
    static func label(_ v: Double, step: Double, log: Bool = false) -> String {
        if log { return String(format: "%g", v) }
        if v != 0 && (abs(v) >= 1e5 || abs(v) < 1e-3) { return String(format: "%.0e", v) }
        let decimals = step >= 1 || step <= 0 ? 0 : Int(Foundation.ceil(-Foundation.log10(step) - 1e-9))
        return String(format: "%.\(min(decimals, 4))f", v)
    }
}

/// One named series of (x, y) points, drawn as a line through markers or as markers alone.
public struct PlotSeries: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]
    public var connected: Bool

    public init(_ name: String, _ points: [(x: Double, y: Double)], connected: Bool = true) {
        self.name = name; self.points = points; self.connected = connected
    }
}

/// Shared SVG pieces: escaping, number formatting, the colour-blind-safe series palette.
enum SVG {
    /// Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), then
    /// greys; series beyond the list reuse it with a different marker.
    static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999"]
    static let markers = ["circle", "square", "triangle", "diamond"]

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func f(_ v: Double) -> String { String(format: "%.2f", v) }

    static func header(width: Int, height: Int, title: String) -> [String] {
        ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" "
            + "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">",
         "<title>\(escape(title))</title>",
         // An opaque background: GitHub's dark theme would otherwise show black text on black.
         "<rect width=\"\(width)\" height=\"\(height)\" fill=\"white\"/>",
         "<text x=\"\(width / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(escape(title))</text>"]
    }

    static func marker(_ kind: String, x: Double, y: Double, colour: String) -> String {
        let r = 4.0
        switch kind {
        case "square":
            return "<rect x=\"\(f(x - r))\" y=\"\(f(y - r))\" width=\"\(f(2 * r))\" height=\"\(f(2 * r))\" fill=\"\(colour)\"/>"
        case "triangle":
            return "<polygon points=\"\(f(x)),\(f(y - r - 1)) \(f(x - r - 1)),\(f(y + r)) \(f(x + r + 1)),\(f(y + r))\" fill=\"\(colour)\"/>"
        case "diamond":
            return "<polygon points=\"\(f(x)),\(f(y - r - 1)) \(f(x + r + 1)),\(f(y)) \(f(x)),\(f(y + r + 1)) \(f(x - r - 1)),\(f(y))\" fill=\"\(colour)\"/>"
        default:
            return "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"\(f(r))\" fill=\"\(colour)\"/>"
        }
    }
}

/// A line or scatter plot with axes, 1-2-5 (or power-of-ten) ticks, grid lines, axis labels
/// and a legend to the right of the plot area (one entry per series).
public struct LinePlot: Sendable {
    public var title: String
    public var x: PlotAxis
    public var y: PlotAxis
    public var series: [PlotSeries]
    public var width = 760
    public var height = 420

    public init(title: String, x: PlotAxis, y: PlotAxis, series: [PlotSeries]) {
        self.title = title; self.x = x; self.y = y; self.series = series
    }

    public var svg: String {
        // Wide enough for the longest series name (about 7 px a character at 12 px Helvetica).
        let legendWidth = max(190, 60 + 7 * (series.map(\.name.count).max() ?? 0))
        let left = 70.0, right = Double(width - legendWidth), top = 40.0, bottom = Double(height - 55)
        let xr = x.resolved(series.flatMap { $0.points.map(\.x) }), yr = y.resolved(series.flatMap { $0.points.map(\.y) })
        func scale(_ v: Double, _ r: ClosedRange<Double>, _ log: Bool, _ a: Double, _ b: Double) -> Double {
            let t = log ? (Foundation.log10(v) - Foundation.log10(r.lowerBound)) / (Foundation.log10(r.upperBound) - Foundation.log10(r.lowerBound))
                        : (v - r.lowerBound) / (r.upperBound - r.lowerBound)
            return a + t * (b - a)
        }
        let px = { (v: Double) in scale(v, xr, x.log, left, right) }
        let py = { (v: Double) in scale(v, yr, y.log, bottom, top) }

        var out = SVG.header(width: width, height: height, title: title)
        // Grid and ticks.
        let xt = PlotAxis.ticks(xr.lowerBound, xr.upperBound, log: x.log, integer: x.integer)
        let yt = PlotAxis.ticks(yr.lowerBound, yr.upperBound, log: y.log, integer: y.integer)
        let xStep = xt.count > 1 ? xt[1] - xt[0] : 1, yStep = yt.count > 1 ? yt[1] - yt[0] : 1
        out.append("<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">")
        for t in xt { out.append("<line x1=\"\(SVG.f(px(t)))\" y1=\"\(top)\" x2=\"\(SVG.f(px(t)))\" y2=\"\(bottom)\"/>") }
        for t in yt { out.append("<line x1=\"\(left)\" y1=\"\(SVG.f(py(t)))\" x2=\"\(right)\" y2=\"\(SVG.f(py(t)))\"/>") }
        out.append("</g>")
        out.append("<g class=\"axes\" stroke=\"#333\" stroke-width=\"1\">")
        out.append("<line x1=\"\(left)\" y1=\"\(bottom)\" x2=\"\(right)\" y2=\"\(bottom)\"/>")
        out.append("<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(bottom)\"/>")
        for t in xt { out.append("<line x1=\"\(SVG.f(px(t)))\" y1=\"\(bottom)\" x2=\"\(SVG.f(px(t)))\" y2=\"\(bottom + 5)\"/>") }
        for t in yt { out.append("<line x1=\"\(left - 5)\" y1=\"\(SVG.f(py(t)))\" x2=\"\(left)\" y2=\"\(SVG.f(py(t)))\"/>") }
        out.append("</g>")
        out.append("<g class=\"tick-labels\" fill=\"#333\">")
        for t in xt {
            out.append("<text x=\"\(SVG.f(px(t)))\" y=\"\(bottom + 19)\" text-anchor=\"middle\">\(PlotAxis.label(t, step: xStep, log: x.log))</text>")
        }
        for t in yt {
            out.append("<text x=\"\(left - 8)\" y=\"\(SVG.f(py(t) + 4))\" text-anchor=\"end\">\(PlotAxis.label(t, step: yStep, log: y.log))</text>")
        }
        out.append("</g>")
        out.append("<text class=\"x-label\" x=\"\(SVG.f((left + right) / 2))\" y=\"\(height - 14)\" text-anchor=\"middle\" font-size=\"13\">\(SVG.escape(x.label))</text>")
        out.append("<text class=\"y-label\" x=\"18\" y=\"\(SVG.f((top + bottom) / 2))\" text-anchor=\"middle\" font-size=\"13\" "
                   + "transform=\"rotate(-90 18 \(SVG.f((top + bottom) / 2)))\">\(SVG.escape(y.label))</text>")

        // Series, clipped to the plot area (a fixed range may cut some points off).
        out.append("<clipPath id=\"plot-area\"><rect x=\"\(left - 6)\" y=\"\(top - 6)\" width=\"\(right - left + 12)\" height=\"\(bottom - top + 12)\"/></clipPath>")
        for (n, s) in series.enumerated() {
            let colour = SVG.palette[n % SVG.palette.count], marker = SVG.markers[(n / SVG.palette.count + n) % SVG.markers.count]
            let visible = s.points.filter { $0.x.isFinite && $0.y.isFinite && (!x.log || $0.x > 0) && (!y.log || $0.y > 0) }
            out.append("<g class=\"series\" data-name=\"\(SVG.escape(s.name))\" clip-path=\"url(#plot-area)\">")
            if s.connected && visible.count > 1 {
                let path = visible.map { "\(SVG.f(px($0.x))),\(SVG.f(py($0.y)))" }.joined(separator: " ")
                out.append("<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"/>")
            }
            for p in visible { out.append(SVG.marker(marker, x: px(p.x), y: py(p.y), colour: colour)) }
            out.append("</g>")
        }
        // Legend.
        out.append("<g class=\"legend\">")
        for (n, s) in series.enumerated() {
            let colour = SVG.palette[n % SVG.palette.count], marker = SVG.markers[(n / SVG.palette.count + n) % SVG.markers.count]
            let ly = top + 8 + Double(n) * 20, lx = right + 18
            out.append("<g class=\"legend-entry\">")
            if s.connected { out.append("<line x1=\"\(lx)\" y1=\"\(ly)\" x2=\"\(lx + 24)\" y2=\"\(ly)\" stroke=\"\(colour)\" stroke-width=\"2\"/>") }
            out.append(SVG.marker(marker, x: lx + 12, y: ly, colour: colour))
            out.append("<text x=\"\(lx + 32)\" y=\"\(ly + 4)\">\(SVG.escape(s.name))</text>")
            out.append("</g>")
        }
        out.append("</g>")
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }
}

/// A heat map: one coloured cell per (row, column), the value printed in it, a colour scale
/// with its label beside the map. Missing values are drawn hatched grey.
public struct HeatMap: Sendable {
    public var title: String
    public var rows: [String]
    public var columns: [String]
    /// [rows][columns]
    public var values: [[Double?]]
    public var rowLabel: String
    public var columnLabel: String
    public var valueLabel: String
    /// Colour scale range; nil fits the data.
    public var range: ClosedRange<Double>? = nil
    /// printf format of the value printed in each cell.
    public var format = "%.2f"

    public init(title: String, rows: [String], columns: [String], values: [[Double?]],
                rowLabel: String, columnLabel: String, valueLabel: String) {
        self.title = title; self.rows = rows; self.columns = columns; self.values = values
        self.rowLabel = rowLabel; self.columnLabel = columnLabel; self.valueLabel = valueLabel
    }

    /// Viridis, sampled at nine points and interpolated linearly: perceptually even, readable
    /// in grey and by colour-blind readers.
    static let viridis: [(Double, Double, Double)] = [
        (68, 1, 84), (72, 40, 120), (62, 73, 137), (49, 104, 142), (38, 130, 142),
        (31, 158, 137), (53, 183, 121), (110, 206, 88), (253, 231, 37)]

    static func colour(_ t: Double) -> (r: Double, g: Double, b: Double) {
        let u = min(1, max(0, t.isFinite ? t : 0)) * Double(viridis.count - 1)
        let i = min(viridis.count - 2, Int(u)), w = u - Double(i)
        let a = viridis[i], b = viridis[i + 1]
        return (a.0 + (b.0 - a.0) * w, a.1 + (b.1 - a.1) * w, a.2 + (b.2 - a.2) * w)
    }

    static func hex(_ c: (r: Double, g: Double, b: Double)) -> String {
        String(format: "#%02X%02X%02X", Int(c.r.rounded()), Int(c.g.rounded()), Int(c.b.rounded()))
    }

    public var svg: String {
        let rowText = rows.map(\.count).max() ?? 1, colText = columns.map(\.count).max() ?? 1
        let cellW = Double(max(44, min(90, colText * 8 + 10))), cellH = 24.0
        let left = 40 + Double(rowText) * 7 + 10, top = 46.0
        let mapW = cellW * Double(columns.count), mapH = cellH * Double(rows.count)
        // Long column names are written at 45 degrees under the map.
        let slanted = colText * 7 > Int(cellW) - 4
        let below = slanted ? Double(colText) * 5.5 + 20 : 26
        let width = Int(left + mapW + 150), height = Int(top + mapH + below + 40)
        let data = values.flatMap { $0.compactMap { $0 } }.filter(\.isFinite)
        let r = range ?? ((data.min() ?? 0)...(max(data.max() ?? 1, (data.min() ?? 0) + 1e-12)))
        let norm = { (v: Double) in (v - r.lowerBound) / (r.upperBound - r.lowerBound) }

        var out = SVG.header(width: width, height: height, title: title)
        out.append("<defs><pattern id=\"missing\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
                   + "<rect width=\"6\" height=\"6\" fill=\"#eee\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#bbb\" stroke-width=\"2\"/></pattern>"
                   + "<linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
                   + Self.viridis.indices.map { i in
                       "<stop offset=\"\(SVG.f(Double(i) / Double(Self.viridis.count - 1)))\" stop-color=\"\(Self.hex(Self.colour(Double(i) / Double(Self.viridis.count - 1))))\"/>"
                   }.joined() + "</linearGradient></defs>")
        out.append("<g class=\"cells\">")
        for (i, row) in values.enumerated() {
            for (j, v) in row.enumerated() {
                let x = left + Double(j) * cellW, y = top + Double(i) * cellH
                guard let v, v.isFinite else {
                    out.append("<rect x=\"\(SVG.f(x))\" y=\"\(SVG.f(y))\" width=\"\(SVG.f(cellW))\" height=\"\(SVG.f(cellH))\" fill=\"url(#missing)\"/>")
                    continue
                }
                let c = Self.colour(norm(v))
                // Dark text on the light (yellow-green) end, white on the dark end.
                let luminance = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b
                out.append("<rect x=\"\(SVG.f(x))\" y=\"\(SVG.f(y))\" width=\"\(SVG.f(cellW))\" height=\"\(SVG.f(cellH))\" fill=\"\(Self.hex(c))\" stroke=\"white\" stroke-width=\"1\"><title>\(SVG.escape(rows[i])), \(SVG.escape(columns[j])): \(String(format: format, v))</title></rect>")
                out.append("<text x=\"\(SVG.f(x + cellW / 2))\" y=\"\(SVG.f(y + cellH / 2 + 4))\" text-anchor=\"middle\" font-size=\"10\" fill=\"\(luminance > 140 ? "#111" : "white")\">\(String(format: format, v))</text>")
            }
        }
        out.append("</g>")
        out.append("<g class=\"tick-labels\" fill=\"#333\">")
        for (i, name) in rows.enumerated() {
            out.append("<text x=\"\(SVG.f(left - 6))\" y=\"\(SVG.f(top + (Double(i) + 0.5) * cellH + 4))\" text-anchor=\"end\">\(SVG.escape(name))</text>")
        }
        for (j, name) in columns.enumerated() {
            let x = left + (Double(j) + 0.5) * cellW, y = top + mapH + 16
            if slanted {
                out.append("<text x=\"\(SVG.f(x))\" y=\"\(SVG.f(y))\" text-anchor=\"end\" transform=\"rotate(-40 \(SVG.f(x)) \(SVG.f(y)))\">\(SVG.escape(name))</text>")
            } else {
                out.append("<text x=\"\(SVG.f(x))\" y=\"\(SVG.f(y))\" text-anchor=\"middle\">\(SVG.escape(name))</text>")
            }
        }
        out.append("</g>")
        out.append("<text class=\"x-label\" x=\"\(SVG.f(left + mapW / 2))\" y=\"\(SVG.f(top + mapH + below + 18))\" text-anchor=\"middle\" font-size=\"13\">\(SVG.escape(columnLabel))</text>")
        out.append("<text class=\"y-label\" x=\"16\" y=\"\(SVG.f(top + mapH / 2))\" text-anchor=\"middle\" font-size=\"13\" "
                   + "transform=\"rotate(-90 16 \(SVG.f(top + mapH / 2)))\">\(SVG.escape(rowLabel))</text>")
        // Colour scale: a gradient bar with its ends and middle labelled.
        let bx = left + mapW + 24, barH = max(80, min(mapH, 240))
        out.append("<g class=\"colour-scale\">")
        out.append("<rect x=\"\(SVG.f(bx))\" y=\"\(top)\" width=\"14\" height=\"\(SVG.f(barH))\" fill=\"url(#scale)\" stroke=\"#333\" stroke-width=\"0.5\"/>")
        for (t, v) in [(0.0, r.lowerBound), (0.5, (r.lowerBound + r.upperBound) / 2), (1.0, r.upperBound)] {
            let y = top + barH * (1 - t)
            out.append("<text x=\"\(SVG.f(bx + 19))\" y=\"\(SVG.f(y + 4))\">\(String(format: format, v))</text>")
        }
        out.append("<text x=\"\(SVG.f(bx + 7))\" y=\"\(SVG.f(top + barH + 18))\" text-anchor=\"middle\" font-size=\"11\">\(SVG.escape(valueLabel))</text>")
        out.append("</g>")
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }
}
