import Foundation

/// A labelled point of a scatter chart.
public struct LabeledPoint: Sendable {
    public var label: String
    public var x: Double
    public var y: Double

    public init(_ label: String, x: Double, y: Double) {
        self.label = label
        self.x = x
        self.y = y
    }
}

/// Labelled points with the Pareto front (smaller x and larger y better) joined and ringed: which variants are worth
/// having, at a glance.
public struct ScatterChart: Sendable {
    public var title: String
    public var caption: String?
    public var x: Axis
    public var y: Axis
    public var points: [LabeledPoint]
    public var width = 560.0
    public var height = 340.0
    /// Draw and mark the front (smaller x, larger y is better).
    public var showsParetoFront = true

    public init(title: String, caption: String? = nil, x: Axis, y: Axis, points: [LabeledPoint]) {
        self.title = title
        self.caption = caption
        self.x = x
        self.y = y
        self.points = points
    }

    /// Indices of the points on the Pareto front.
    public var front: [Int] { ParetoFront.indices(cost: points.map(\.x), value: points.map(\.y)) }

    public func html() -> String {
        let names = points.map(\.label)
        let legend = legendHeight(names, maxWidth: width - 80)
        let frame = PlotFrame(x: x, y: y, xs: points.map(\.x), ys: points.map(\.y), width: width, height: height + legend, top: 34 + legend)
        var c = SVGCanvas(width: width, height: height + legend)
        c.text(title, 8, 16, size: 13, weight: "600")
        drawLegend(names, on: &c, x: 64, y: 32, maxWidth: width - 80, marker: true)
        frame.drawAxes(on: &c)
        let front = showsParetoFront ? self.front : []
        if front.count > 1 {
            c.polyline(front.map { (frame.px(points[$0].x), frame.py(points[$0].y)) }, stroke: "#999", width: 1.5, dash: "4 3")
        }
        for (i, p) in points.enumerated() where p.x.isFinite && p.y.isFinite {
            let onFront = front.contains(i)
            c.circle(
                frame.px(p.x), frame.py(p.y), r: onFront ? 6 : 4.5, fill: Palette.colour(i), stroke: onFront ? "#222" : nil,
                title: "\(p.label): \(x.format(p.x)), \(y.format(p.y))\(onFront ? " (Pareto front)" : "")")
            c.text(p.label, frame.px(p.x) + 8, frame.py(p.y) - 7, size: 10, fill: "#333")
        }
        let note = front.isEmpty ? nil : "Ringed points joined by the dashed line are the Pareto front (nothing is both faster and better)"
        return figure(kind: "scatter", title: title, caption: [caption, note].compactMap { $0 }.joined(separator: ". "), svg: c.svg(title: title))
    }
}
