import Foundation

/// A standalone report page: headings, paragraphs, tables and charts, one stylesheet, no external files.
///
/// The page carries one small script that runs only when the URL ends in `#selfcheck`: it writes the rendered size
/// and mark count of every chart into `<pre id="chart-check">`, so a headless browser (`chromium --headless
/// --dump-dom report.html#selfcheck`) can prove the charts were laid out, not only that the markup exists.
///
/// ```swift
/// var page = HTMLReport(title: "compare")
/// page.heading("Size")
/// page.table(header: ["metric", "before", "after"], rows: [["weights", "86.7 MB", "22.1 MB"]])
/// page.chart(BarChart(…).html())
/// let html = page.render()
/// ```
public struct HTMLReport: Sendable {
    public var title: String
    private var body = ""

    public init(title: String) { self.title = title }

    public mutating func heading(_ text: String, level: Int = 2) {
        body += "<h\(level)>\(escapeHTML(text))</h\(level)>\n"
    }

    /// A paragraph of plain text (escaped).
    public mutating func paragraph(_ text: String) { body += "<p>\(escapeHTML(text))</p>\n" }

    /// A list of plain-text items (escaped).
    public mutating func list(_ items: [String]) {
        body += "<ul>" + items.map { "<li>\(escapeHTML($0))</li>" }.joined() + "</ul>\n"
    }

    /// A table; cells are plain text (escaped). Columns after the first are right-aligned (numbers), a leading
    /// `**` in a cell makes it bold (the best value of a column).
    public mutating func table(header: [String], rows: [[String]]) {
        body += "<table><thead><tr>" + header.map { "<th>\(escapeHTML($0))</th>" }.joined() + "</tr></thead><tbody>"
        for row in rows {
            body += "<tr>"
            for cell in row {
                if cell.hasPrefix("**") {
                    body += "<td><strong>\(escapeHTML(String(cell.dropFirst(2))))</strong></td>"
                } else {
                    body += "<td>\(escapeHTML(cell))</td>"
                }
            }
            body += "</tr>"
        }
        body += "</tbody></table>\n"
    }

    /// A chart's `<figure>` (from ``LineChart/html()``, ``BarChart/html()``…).
    public mutating func chart(_ figureHTML: String) { body += figureHTML + "\n" }

    /// Several charts side by side where the page is wide enough.
    public mutating func chartRow(_ figures: [String]) {
        body += "<div class=\"charts\">" + figures.joined() + "</div>\n"
    }

    /// Preformatted text (escaped), e.g. the commands that reproduce the figures.
    public mutating func code(_ text: String) { body += "<pre>\(escapeHTML(text))</pre>\n" }

    static let style = """
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
        h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
        table{border-collapse:collapse;margin:1em 0;font-size:.92em}th,td{border:1px solid #ddd;padding:4px 10px;text-align:right}
        th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}tbody tr:nth-child(even){background:#fbfbfb}
        .charts{display:flex;flex-wrap:wrap;gap:12px}figure.chart{margin:8px 0;display:inline-block}
        figcaption{font-size:.85em;color:#555;max-width:560px}pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.85em}
        """

    static let selfCheck = """
        <script>
        if (location.hash === "#selfcheck") {
          const charts = [...document.querySelectorAll("figure.chart")].map(f => {
            const svg = f.querySelector("svg"), box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
            return {kind: f.dataset.chart, title: svg && svg.querySelector("title") ? svg.querySelector("title").textContent : "",
                    width: Math.round(box.width), height: Math.round(box.height),
                    marks: svg ? svg.querySelectorAll("rect,circle,polyline").length : 0};
          });
          const pre = document.createElement("pre");
          pre.id = "chart-check";
          pre.textContent = JSON.stringify({charts: charts});
          document.body.appendChild(pre);
        }
        </script>
        """

    /// The whole page.
    public func render() -> String {
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>\(escapeHTML(title))</title><style>\(Self.style)</style></head><body>\n<h1>\(escapeHTML(title))</h1>\n\(body)\(Self.selfCheck)</body></html>\n"
    }
}
