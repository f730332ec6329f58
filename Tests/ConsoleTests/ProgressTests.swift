import Foundation
import Testing

@testable import Console

/// Collects what a renderer writes, and plays the clock.
final class Capture: @unchecked Sendable {
    private let lock = NSLock()
    private var chunks: [String] = []
    private var time = 100.0

    var text: String { lock.withLock { chunks.joined() } }
    var writes: Int { lock.withLock { chunks.count } }
    func write(_ s: String) { lock.withLock { chunks.append(s) } }
    func now() -> Double { lock.withLock { time } }
    func tick(_ seconds: Double) { lock.withLock { time += seconds } }
}

struct ProgressFormatTests {
    @Test(arguments: [(0.0, "[░░░░░░░░░░]"), (0.25, "[██░░░░░░░░]"), (0.5, "[█████░░░░░]"), (1.0, "[██████████]"), (7.0, "[██████████]")])
    func bar(_ fraction: Double, _ expected: String) {
        #expect(ProgressFormat.bar(fraction: fraction, width: 10) == expected)
    }

    @Test(arguments: [(0.4, "0s"), (7, "7s"), (59.6, "1m00s"), (65, "1m05s"), (3599, "59m59s"), (7380, "2h03m"), (-1, "?")])
    func duration(_ seconds: Double, _ expected: String) {
        #expect(ProgressFormat.duration(seconds) == expected)
    }

    @Test func rateAndETA() {
        #expect(ProgressFormat.rate(done: 0, elapsed: 3) == "-/s")
        #expect(ProgressFormat.rate(done: 25, elapsed: 2) == "12.5/s")
        #expect(ProgressFormat.rate(done: 2, elapsed: 8.4) == "4.2s/it")
        let task = ProgressTask(label: "x", total: 36, done: 9, started: 10)
        #expect(ProgressFormat.eta(task, now: 20) == "30s")  // 27 steps left at 0.9 steps/s
        #expect(ProgressFormat.eta(ProgressTask(label: "x", total: 5, started: 0), now: 9) == "?")
    }

    @Test func lineShowsOuterBarAndNestedCounts() {
        let tasks = [
            ProgressTask(label: "quantize", total: 36, done: 9, started: 0),
            ProgressTask(label: "calibration", total: 63, done: 3, started: 5),
        ]
        #expect(
            ProgressFormat.line(tasks, now: 10, columns: 200, barWidth: 8)
                == "quantize [██░░░░░░] 9/36  1.1s/it  ETA 30s · calibration 3/63")
        // Never wider than the terminal minus one column: a wrapped line cannot be redrawn.
        #expect(ProgressFormat.line(tasks, now: 10, columns: 20).count == 19)
        #expect(ProgressFormat.line([], now: 0, columns: 80) == "")
    }

    @Test func stamp() {
        #expect(ProgressFormat.stamp(1.25) == "[   1.3s] ")
        #expect(ProgressFormat.stamp(1234.5) == "[1234.5s] ")
    }
}

struct TerminalProgressTests {
    static func make(_ c: Capture) -> ProgressReporter {
        ProgressReporter(TerminalProgress(write: { c.write($0) }, now: { c.now() }, columns: { 100 }))
    }

    @Test func barIsRedrawnInPlaceThrottledAndCleared() {
        let c = Capture()
        let p = Self.make(c)
        p.begin(total: 4, label: "outputs")
        #expect(c.text == "\routputs [░░░░░░░░░░░░░░░░░░░░] 0/4  -/s  ETA ?\u{1B}[K")
        p.advance()  // same instant: throttled
        #expect(c.writes == 1)
        c.tick(1)
        p.advance()
        #expect(c.text.hasSuffix("\routputs [██████████░░░░░░░░░░] 2/4  2.0/s  ETA 1s\u{1B}[K"))
        for _ in 0..<50 { c.tick(0.001); p.advance(by: 0) }  // 50 ms of calls: no redraw
        #expect(c.writes == 2)
        p.end()
        #expect(c.text.hasSuffix("\r\u{1B}[K"))
        #expect(!c.text.contains("\n"), "a bar never leaves lines behind")
    }

    @Test func messagesPrintAboveTheBar() {
        let c = Capture()
        let p = Self.make(c)
        p.message("stage 1/2: evaluate")
        #expect(c.text == "[   0.0s] stage 1/2: evaluate\n")
        p.begin(total: 2, label: "t")
        c.tick(2)
        p.message("hello")
        // The bar is cleared, the message printed, then the bar drawn again.
        #expect(c.text.hasSuffix("\r\u{1B}[K[   2.0s] hello\n\rt [░░░░░░░░░░░░░░░░░░░░] 0/2  -/s  ETA ?\u{1B}[K"))
    }

    @Test func nestedTasksAndThrowingBodiesEndCleanly() {
        let c = Capture()
        let p = Self.make(c)
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try p.task("quantize", total: 3) { q in
                q.advance()
                try q.task("calibration", total: 5) { _ in throw Boom() }
            }
        }
        #expect(c.text.contains("quantize [") && c.text.contains(" · calibration 0/5"))
        #expect(c.text.hasSuffix("\r\u{1B}[K"), "cleared before the error line")
        p.advance()  // no task: ignored
        p.end()
        #expect(c.text.hasSuffix("\r\u{1B}[K"))
    }
}

struct LineProgressTests {
    @Test func conciseLinesForLogs() {
        let c = Capture()
        let p = ProgressReporter(LineProgress(write: { c.write($0) }, now: { c.now() }, interval: 10))
        p.message("loading")
        p.begin(total: 100, label: "sensitivity")
        // The inner task's steps trigger the timed lines, which report the outer task (39 done at 10 s).
        for _ in 0..<100 {
            c.tick(0.25)
            p.begin(total: 10, label: "outputs")
            for _ in 0..<10 { p.advance() }
            p.end()
            p.advance()
        }
        p.end()
        p.begin(total: 3, label: "quick")
        p.advance(by: 3)
        p.end()  // under a second: no line
        #expect(
            c.text == """
                [   0.0s] loading
                [  10.0s] sensitivity 39/100, ETA 16s
                [  20.0s] sensitivity 79/100, ETA 5s
                [  25.0s] sensitivity 100/100 in 25s

                """)
        #expect(!c.text.contains("\r"))
    }

    @Test func silentReporterDoesNothing() {
        let p = ProgressReporter.silent
        p.message("x")
        p.begin(total: 1, label: "y")
        p.advance()
        p.end()
        #expect(p.task("z", total: 1) { _ in 42 } == 42)
    }
}
