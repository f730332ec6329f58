import Foundation

/// The plotting area of an x/y chart: maps data to pixels and draws the axes, ticks, grid and axis labels.
struct PlotFrame {
    let x: Axis
    let y: Axis
    let xRange: (lower: Double, upper: Double, ticks: [Double])
    let yRange: (lower: Double, upper: Double, ticks: [Double])
    let left = 64.0, right = 16.0, bottom = 46.0
    let top: Double
    let width: Double
    let height: Double

    init(x: Axis, y: Axis, xs: [Double], ys: [Double], width: Double, height: Double, top: Double) {
        self.top = top
        self.x = x
        self.y = y
        xRange = x.ticks(for: xs)
        yRange = y.ticks(for: ys)
        self.width = width
        self.height = height
    }

    private static func fraction(_ v: Double, _ axis: Axis, _ lo: Double, _ hi: Double) -> Double {
        switch axis.scale {
        case .linear: return hi == lo ? 0.5 : (v - lo) / (hi - lo)
        case .log: return v <= 0 ? 0 : (log10(v) - log10(lo)) / max(log10(hi) - log10(lo), 1e-12)
        }
    }

    func px(_ v: Double) -> Double { left + (width - left - right) * Self.fraction(v, x, xRange.lower, xRange.upper) }
    func py(_ v: Double) -> Double { height - bottom - (height - top - bottom) * Self.fraction(v, y, yRange.lower, yRange.upper) }

    /// Grid lines, tick labels and axis titles.
    func drawAxes(on c: inout SVGCanvas) {
        let x0 = left, x1 = width - right, y0 = top, y1 = height - bottom
        for t in yRange.ticks {
            let yy = py(t)
            c.line(x0, yy, x1, yy, stroke: "#e4e4e4")
            c.text(y.format(t), x0 - 6, yy + 4, size: 10, anchor: .end, fill: "#555")
        }
        for t in xRange.ticks {
            let xx = px(t)
            c.line(xx, y0, xx, y1, stroke: "#f0f0f0")
            c.text(x.format(t), xx, y1 + 14, size: 10, anchor: .middle, fill: "#555")
        }
        c.line(x0, y1, x1, y1, stroke: "#888")
        c.line(x0, y0, x0, y1, stroke: "#888")
        c.text(x.label + (x.scale == .log ? " (log scale)" : ""), (x0 + x1) / 2, height - 8, size: 11, anchor: .middle, fill: "#333")
        c.text(y.label + (y.scale == .log ? " (log scale)" : ""), 14, (y0 + y1) / 2, size: 11, anchor: .middle, fill: "#333", rotate: true)
    }
}

/// Where each legend entry goes: rows of swatch + name that wrap at `maxWidth`.
private func legendLayout(_ names: [String], x: Double, y: Double, maxWidth: Double) -> [(Double, Double)] {
    var cx = x, cy = y
    var out: [(Double, Double)] = []
    for name in names {
        let w = 22 + Double(name.count) * 6.2
        if cx + w > x + maxWidth, cx > x { cx = x; cy += 14 }
        out.append((cx, cy))
        cx += w
    }
    return out
}

/// The height the legend takes (0 without entries).
func legendHeight(_ names: [String], maxWidth: Double) -> Double {
    guard let last = legendLayout(names, x: 0, y: 0, maxWidth: maxWidth).last else { return 0 }
    return last.1 + 14
}

/// A legend above the plot: a swatch (colour and dash of the series) and the name of each series.
func drawLegend(_ names: [String], on c: inout SVGCanvas, x: Double, y: Double, maxWidth: Double, marker: Bool = false) {
    for (i, (name, (cx, cy))) in zip(names, legendLayout(names, x: x, y: y, maxWidth: maxWidth)).enumerated() {
        if marker {
            c.circle(cx + 7, cy - 4, r: 4, fill: Palette.colour(i))
        } else {
            c.line(cx, cy - 4, cx + 14, cy - 4, stroke: Palette.colour(i), width: 3, dash: Palette.dash(i))
        }
        c.text(name, cx + 18, cy, size: 10, fill: "#333")
    }
}

/// Wraps a chart's SVG in a captioned `<figure>` that the report's self-check can find.
func figure(kind: String, title: String, caption: String?, svg: String) -> String {
    // The title is drawn inside the SVG; the caption only adds what the chart cannot say (sources, definitions).
    let text = caption.flatMap { $0.isEmpty ? nil : "<figcaption>\(escapeHTML($0))</figcaption>" } ?? ""
    return "<figure class=\"chart\" data-chart=\"\(kind)\">\(svg)\(text)</figure>"
}
