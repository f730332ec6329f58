import Foundation

/// Progress for a terminal: one line redrawn in place with `\r` (bar, count, rate, ETA), at most ~10 times a
/// second, cleared when the last task ends; messages print as lines above it.
public final class TerminalProgress: ProgressRenderer, @unchecked Sendable {
    private let lock = NSLock()
    private let write: @Sendable (String) -> Void
    private let now: @Sendable () -> Double
    private let columns: @Sendable () -> Int
    private let start: Double
    /// Redraws closer together than this are skipped (advance is called per batch, often thousands of times).
    private let minInterval: Double
    private var tasks: [ProgressTask] = []
    private var lastDraw = -Double.infinity
    private var lineShown = false

    /// - write: receives the exact bytes for the terminal (tests capture them).
    /// - now: a monotonic clock in seconds (injectable for tests).
    /// - columns: the terminal width.
    public init(
        write: @escaping @Sendable (String) -> Void, now: @escaping @Sendable () -> Double = monotonicSeconds,
        columns: @escaping @Sendable () -> Int = { 80 }, minInterval: Double = 0.1
    ) {
        self.write = write
        self.now = now
        self.columns = columns
        self.minInterval = minInterval
        self.start = now()
    }

    public func message(_ text: String) {
        lock.withLock {
            let t = now()
            write((lineShown ? "\r\u{1B}[K" : "") + ProgressFormat.stamp(t - start) + text + "\n")
            lineShown = false
            if !tasks.isEmpty { draw(at: t) }
        }
    }

    public func begin(total: Int, label: String) {
        lock.withLock {
            let t = now()
            tasks.append(ProgressTask(label: label, total: total, started: t))
            draw(at: t)
        }
    }

    public func advance(by n: Int) {
        lock.withLock {
            guard !tasks.isEmpty else { return }
            tasks[tasks.count - 1].done += n
            let t = now()
            if t - lastDraw >= minInterval { draw(at: t) }
        }
    }

    public func end() {
        lock.withLock {
            guard !tasks.isEmpty else { return }
            tasks.removeLast()
            if tasks.isEmpty {
                if lineShown { write("\r\u{1B}[K") }
                lineShown = false
            } else {
                draw(at: now())
            }
        }
    }

    /// Caller holds the lock.
    private func draw(at t: Double) {
        write("\r" + ProgressFormat.line(tasks, now: t, columns: columns()) + "\u{1B}[K")
        lineShown = true
        lastDraw = t
    }
}

/// Seconds on a monotonic clock.
@Sendable public func monotonicSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
