import Foundation

/// One bar per category and series, drawn horizontally so long variant names stay readable, each bar labelled with
/// its value in the axis' units.
public struct BarChart: Sendable {
    public struct Group: Sendable {
        public var name: String
        /// One value per category (nil: not measured, no bar).
        public var values: [Double?]

        public init(_ name: String, values: [Double?]) {
            self.name = name
            self.values = values
        }
    }

    public var title: String
    public var caption: String?
    public var value: Axis
    public var categories: [String]
    public var groups: [Group]
    public var width = 560.0

    public init(title: String, caption: String? = nil, value: Axis, categories: [String], groups: [Group]) {
        self.title = title
        self.caption = caption
        self.value = value
        self.categories = categories
        self.groups = groups
    }

    public func html() -> String {
        let barHeight = 14.0, gap = 10.0
        let labelWidth = min(220, 16 + 6.2 * Double(categories.map(\.count).max() ?? 0))
        let names = groups.count > 1 ? groups.map(\.name) : []
        let legend = legendHeight(names, maxWidth: width - 80)
        let top = 30 + legend
        let rowHeight = Double(groups.count) * barHeight + gap
        let height = top + Double(categories.count) * rowHeight + 36
        var axis = value
        axis.includesZero = axis.scale == .linear
        let all = groups.flatMap { $0.values.compactMap { $0 } }
        let range = axis.ticks(for: all)
        let x0 = labelWidth, x1 = width - 70
        func px(_ v: Double) -> Double {
            switch axis.scale {
            case .linear: return x0 + (x1 - x0) * (v - range.lower) / max(range.upper - range.lower, 1e-300)
            case .log: return x0 + (x1 - x0) * (log10(max(v, range.lower)) - log10(range.lower)) / max(log10(range.upper) - log10(range.lower), 1e-12)
            }
        }
        var c = SVGCanvas(width: width, height: height)
        c.text(title, 8, 16, size: 13, weight: "600")
        drawLegend(names, on: &c, x: x0, y: 30, maxWidth: width - x0 - 10)
        let bottom = height - 36
        for t in range.ticks {
            c.line(px(t), top, px(t), bottom, stroke: "#e8e8e8")
            c.text(axis.format(t), px(t), bottom + 13, size: 10, anchor: .middle, fill: "#555")
        }
        c.text(axis.label, (x0 + x1) / 2, height - 6, size: 11, anchor: .middle, fill: "#333")
        for (k, category) in categories.enumerated() {
            let y = top + Double(k) * rowHeight + gap / 2
            c.text(category, x0 - 6, y + Double(groups.count) * barHeight / 2 + 4, size: 11, anchor: .end)
            for (g, group) in groups.enumerated() {
                guard k < group.values.count, let v = group.values[k], v.isFinite else { continue }
                let by = y + Double(g) * barHeight
                let start = axis.scale == .linear ? px(0) : x0
                c.rect(min(start, px(v)), by + 1, abs(px(v) - start), barHeight - 2, fill: Palette.colour(g), title: "\(group.name) · \(category): \(axis.format(v))")
                c.text(axis.format(v), max(start, px(v)) + 4, by + barHeight - 3, size: 10, fill: "#333")
            }
        }
        c.line(x0, top, x0, bottom, stroke: "#888")
        return figure(kind: "bar", title: title, caption: caption, svg: c.svg(title: title))
    }
}
