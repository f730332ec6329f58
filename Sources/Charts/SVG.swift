import Foundation

/// Escapes text for HTML/SVG content and attribute values.
public func escapeHTML(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.count)
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        default: out.append(c)
        }
    }
    return out
}

/// A small SVG writer: elements appended in paint order, coordinates with one decimal (sub-pixel detail is noise).
struct SVGCanvas {
    let width: Double
    let height: Double
    private(set) var body = ""

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    static func n(_ v: Double) -> String { String(format: "%.1f", v) }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1, dash: String? = nil) {
        body += "<line x1=\"\(Self.n(x1))\" y1=\"\(Self.n(y1))\" x2=\"\(Self.n(x2))\" y2=\"\(Self.n(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(width)\""
        body += (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>"
    }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, title: String? = nil) {
        body += "<rect x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" width=\"\(Self.n(max(w, 0)))\" height=\"\(Self.n(max(h, 0)))\" fill=\"\(fill)\""
        body += title.map { "><title>\(escapeHTML($0))</title></rect>" } ?? "/>"
    }

    mutating func circle(_ x: Double, _ y: Double, r: Double, fill: String, stroke: String? = nil, title: String? = nil) {
        body += "<circle cx=\"\(Self.n(x))\" cy=\"\(Self.n(y))\" r=\"\(r)\" fill=\"\(fill)\"" + (stroke.map { " stroke=\"\($0)\" stroke-width=\"2\"" } ?? "")
        body += title.map { "><title>\(escapeHTML($0))</title></circle>" } ?? "/>"
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 2, dash: String? = nil) {
        let pts = points.map { "\(Self.n($0.0)),\(Self.n($0.1))" }.joined(separator: " ")
        body += "<polyline fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(width)\" stroke-linejoin=\"round\""
        body += (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + " points=\"\(pts)\"/>"
    }

    enum Anchor: String { case start, middle, end }

    mutating func text(_ s: String, _ x: Double, _ y: Double, size: Double = 11, anchor: Anchor = .start, weight: String? = nil, fill: String = "#222", rotate: Bool = false) {
        body += "<text x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" font-size=\"\(size)\" text-anchor=\"\(anchor.rawValue)\" fill=\"\(fill)\""
        if let weight { body += " font-weight=\"\(weight)\"" }
        if rotate { body += " transform=\"rotate(-90 \(Self.n(x)) \(Self.n(y)))\"" }
        body += ">\(escapeHTML(s))</text>"
    }

    /// The finished `<svg>` element, labelled for screen readers with `title`.
    func svg(title: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" font-family=\"system-ui, sans-serif\"><title>\(escapeHTML(title))</title>\(body)</svg>"
    }
}
