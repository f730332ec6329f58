import Foundation

/// A named sequence of (x, y) points.
public struct Series: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]

    public init(_ name: String, points: [(x: Double, y: Double)]) {
        self.name = name
        self.points = points
    }
}

/// Lines with markers, one per series (throughput against concurrency, latency CDFs, learning curves).
///
/// ```swift
/// LineChart(title: "Throughput", x: Axis("concurrency", scale: .log), y: Axis("requests/s", includesZero: true),
///           series: [Series("REST", points: [(1, 420), (8, 1900)])]).html()
/// ```
public struct LineChart: Sendable {
    public var title: String
    public var caption: String?
    public var x: Axis
    public var y: Axis
    public var series: [Series]
    public var width = 560.0
    public var height = 320.0
    /// Steps instead of straight segments (a CDF between known percentiles is a step function).
    public var stepped = false

    public init(title: String, caption: String? = nil, x: Axis, y: Axis, series: [Series]) {
        self.title = title
        self.caption = caption
        self.x = x
        self.y = y
        self.series = series
    }

    /// The chart as a captioned `<figure>` with inline SVG.
    public func html() -> String {
        let series = self.series.map { s in Series(s.name, points: s.points.filter { $0.x.isFinite && $0.y.isFinite }) }
        let names = series.map(\.name)
        let legend = legendHeight(names, maxWidth: width - 80)
        let frame = PlotFrame(
            x: x, y: y, xs: series.flatMap { $0.points.map(\.x) }, ys: series.flatMap { $0.points.map(\.y) },
            width: width, height: height + legend, top: 34 + legend)
        var c = SVGCanvas(width: width, height: height + legend)
        c.text(title, 8, 16, size: 13, weight: "600")
        drawLegend(names, on: &c, x: 64, y: 32, maxWidth: width - 80)
        frame.drawAxes(on: &c)
        for (i, s) in series.enumerated() {
            var pts = s.points.map { (frame.px($0.x), frame.py($0.y)) }
            if stepped, pts.count > 1 {
                var out = [pts[0]]
                for p in pts.dropFirst() { out.append((p.0, out.last!.1)); out.append(p) }
                pts = out
            }
            if pts.count > 1 { c.polyline(pts, stroke: Palette.colour(i), dash: Palette.dash(i)) }
            for p in s.points {
                c.circle(frame.px(p.x), frame.py(p.y), r: 3, fill: Palette.colour(i), title: "\(s.name): \(x.format(p.x)), \(y.format(p.y))")
            }
        }
        return figure(kind: "line", title: title, caption: caption, svg: c.svg(title: title))
    }
}
