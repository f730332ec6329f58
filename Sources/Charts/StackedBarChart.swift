import Foundation

/// Horizontal bars split into parts (where a request's time goes: serialize, network, queue, forward…), parts in
/// the same colour across bars, totals at the end.
public struct StackedBarChart: Sendable {
    public struct Bar: Sendable {
        public var label: String
        /// One value per part name, in order.
        public var parts: [Double]

        public init(_ label: String, parts: [Double]) {
            self.label = label
            self.parts = parts
        }
    }

    public var title: String
    public var caption: String?
    public var value: Axis
    public var partNames: [String]
    public var bars: [Bar]
    public var width = 640.0

    public init(title: String, caption: String? = nil, value: Axis, partNames: [String], bars: [Bar]) {
        self.title = title
        self.caption = caption
        self.value = value
        self.partNames = partNames
        self.bars = bars
    }

    public func html() -> String {
        let barHeight = 18.0, gap = 8.0
        let labelWidth = min(240, 16 + 6.2 * Double(bars.map(\.label.count).max() ?? 0))
        let legend = legendHeight(partNames, maxWidth: width - 20)
        let top = 30 + legend
        let height = top + Double(bars.count) * (barHeight + gap) + 36
        var axis = value
        axis.includesZero = true
        axis.scale = .linear
        let totals = bars.map { $0.parts.filter(\.isFinite).reduce(0, +) }
        let range = axis.ticks(for: totals + [0])
        let x0 = labelWidth, x1 = width - 70
        func px(_ v: Double) -> Double { x0 + (x1 - x0) * (v - range.lower) / max(range.upper - range.lower, 1e-300) }
        var c = SVGCanvas(width: width, height: height)
        c.text(title, 8, 16, size: 13, weight: "600")
        drawLegend(partNames, on: &c, x: 10, y: 30, maxWidth: width - 20, marker: true)
        let bottom = height - 36
        for t in range.ticks {
            c.line(px(t), top, px(t), bottom, stroke: "#e8e8e8")
            c.text(axis.format(t), px(t), bottom + 13, size: 10, anchor: .middle, fill: "#555")
        }
        c.text(axis.label, (x0 + x1) / 2, height - 6, size: 11, anchor: .middle, fill: "#333")
        for (k, bar) in bars.enumerated() {
            let y = top + Double(k) * (barHeight + gap) + gap / 2
            c.text(bar.label, x0 - 6, y + barHeight / 2 + 4, size: 11, anchor: .end)
            var start = 0.0
            for (p, v) in bar.parts.enumerated() where v.isFinite && v > 0 {
                let name = p < partNames.count ? partNames[p] : "part \(p + 1)"
                c.rect(px(start), y, px(start + v) - px(start), barHeight, fill: Palette.colour(p), title: "\(bar.label) · \(name): \(axis.format(v))")
                start += v
            }
            c.text(axis.format(totals[k]), px(start) + 4, y + barHeight / 2 + 4, size: 10, fill: "#333")
        }
        c.line(x0, top, x0, bottom, stroke: "#888")
        return figure(kind: "stacked-bar", title: title, caption: caption, svg: c.svg(title: title))
    }
}
