import Foundation
import Testing

@testable import Charts

#if canImport(FoundationXML)
import FoundationXML
#endif

/// Parses markup as XML: every chart must be well-formed SVG (a browser renders nothing after a broken tag).
func isWellFormed(_ markup: String) -> Bool {
    let parser = XMLParser(data: Data(markup.utf8))
    return parser.parse()
}

func count(_ needle: String, in haystack: String) -> Int { haystack.components(separatedBy: needle).count - 1 }

@Suite struct ChartTests {
    @Test func axisTicksCoverTheDataWithRoundSteps() {
        let axis = Axis("x", includesZero: true)
        let r = axis.ticks(for: [3.2, 47.9])
        #expect(r.lower == 0 && r.upper >= 47.9)
        #expect(r.ticks.first == 0 && r.ticks.last == r.upper)
        let step = r.ticks[1] - r.ticks[0]
        #expect([1.0, 2, 2.5, 5, 10, 20, 25, 50].contains(step))
        var accuracy = Axis("accuracy")
        accuracy.maximum = 1
        let a = accuracy.ticks(for: [0.9833, 0.9833])
        #expect(a.upper <= 1 && a.lower < 0.9833 && a.ticks.allSatisfy { $0 <= 1 })
        let log = Axis("c", scale: .log).ticks(for: [1, 64])
        #expect(log.ticks == [1, 10, 100])
    }

    @Test func lineChartDrawsEveryPointOfEverySeries() {
        let chart = LineChart(
            title: "Throughput <REST & gRPC>", x: Axis("concurrency", scale: .log), y: Axis("req/s", includesZero: true, format: Units.rate),
            series: [Series("rest", points: [(1, 400), (8, 1900), (32, 2400)]), Series("grpc", points: [(1, 450), (8, 2100), (32, .nan)])])
        let html = chart.html()
        #expect(isWellFormed(html))
        #expect(count("<circle", in: html) == 5)  // the NaN point is dropped
        #expect(count("<polyline", in: html) == 2)
        #expect(html.contains("Throughput &lt;REST &amp; gRPC&gt;"))
        #expect(html.contains("data-chart=\"line\""))
    }

    @Test func steppedLineDoublesTheVertices() {
        var chart = LineChart(title: "cdf", x: Axis("latency", scale: .log), y: Axis("%"), series: [Series("a", points: [(100, 50), (200, 90), (400, 100)])])
        chart.stepped = true
        let html = chart.html()
        let points = html.components(separatedBy: "points=\"")[1].prefix { $0 != "\"" }.split(separator: " ")
        #expect(points.count == 5)
    }

    @Test func scatterMarksTheParetoFront() {
        let chart = ScatterChart(
            title: "quality vs latency", x: Axis("ms"), y: Axis("cosine"),
            points: [LabeledPoint("fp32", x: 10, y: 1), LabeledPoint("int8", x: 4, y: 0.99), LabeledPoint("bad", x: 12, y: 0.9)])
        #expect(chart.front == [1, 0])
        let html = chart.html()
        #expect(isWellFormed(html))
        #expect(count("(Pareto front)", in: html) == 2)
        #expect(count("<circle", in: html) == 3 + 3)  // points + legend markers
    }

    @Test func barChartSkipsMissingValuesAndLabelsBars() {
        let chart = BarChart(
            title: "Size", value: Axis("bytes", format: Units.bytes), categories: ["fp32", "int8"],
            groups: [.init("weights", values: [86_700_000, 22_100_000]), .init("zstd", values: [80_000_000, nil])])
        let html = chart.html()
        #expect(isWellFormed(html))
        #expect(count("<rect", in: html) == 3)
        #expect(html.contains(">86.7 MB<") && html.contains(">22.1 MB<"))
    }

    @Test func stackedBarsSumTheirParts() {
        let chart = StackedBarChart(
            title: "components", value: Axis("µs", format: { Units.duration(microseconds: $0) }), partNames: ["queue", "infer"],
            bars: [.init("rest", parts: [100, 900]), .init("grpc", parts: [50, 0])])
        let html = chart.html()
        #expect(isWellFormed(html))
        #expect(count("<rect", in: html) == 3)  // the zero part has no rectangle
        #expect(html.contains(">1.00 ms<") && html.contains(">50.0 µs<"))
    }

    @Test func pageIsWellFormedAndCarriesTheSelfCheck() {
        var page = HTMLReport(title: "t <1>")
        page.heading("Size")
        page.table(header: ["a", "b"], rows: [["x", "**1"], ["<y>", "2"]])
        page.chart(BarChart(title: "b", value: Axis("v"), categories: ["c"], groups: [.init("g", values: [1])]).html())
        let html = page.render()
        #expect(html.contains("<strong>1</strong>") && html.contains("&lt;y&gt;") && html.contains("<title>t &lt;1&gt;</title>"))
        #expect(html.contains("#selfcheck") && html.contains("chart-check"))
        let body = html.components(separatedBy: "<body>")[1].components(separatedBy: "<script>")[0]
        #expect(isWellFormed("<div>" + body + "</div>"))
    }
}
