import Foundation

/// Progress for logs and pipes (stderr not a terminal): messages as stamped lines; for the outermost task, a line
/// at most every `interval` seconds while it runs and one when it ends if it took `minimumReported` seconds or more.
/// Nested tasks only show in those lines, so a log gets a handful of lines, never a redraw per step.
public final class LineProgress: ProgressRenderer, @unchecked Sendable {
    private let lock = NSLock()
    private let write: @Sendable (String) -> Void
    private let now: @Sendable () -> Double
    private let start: Double
    private let interval: Double
    private let minimumReported: Double
    private var tasks: [ProgressTask] = []
    private var lastLine = 0.0

    public init(
        write: @escaping @Sendable (String) -> Void, now: @escaping @Sendable () -> Double = monotonicSeconds, interval: Double = 10,
        minimumReported: Double = 1
    ) {
        self.write = write
        self.now = now
        self.interval = interval
        self.minimumReported = minimumReported
        self.start = now()
    }

    public func message(_ text: String) {
        lock.withLock { write(ProgressFormat.stamp(now() - start) + text + "\n") }
    }

    public func begin(total: Int, label: String) {
        lock.withLock {
            let t = now()
            if tasks.isEmpty { lastLine = t }
            tasks.append(ProgressTask(label: label, total: total, started: t))
        }
    }

    public func advance(by n: Int) {
        lock.withLock {
            guard !tasks.isEmpty else { return }
            tasks[tasks.count - 1].done += n
            let t = now()
            if t - lastLine >= interval {
                lastLine = t
                let outer = tasks[0]
                write(
                    ProgressFormat.stamp(t - start)
                        + "\(outer.label) \(outer.done)/\(outer.total), ETA \(ProgressFormat.eta(outer, now: t))\n")
            }
        }
    }

    public func end() {
        lock.withLock {
            guard let task = tasks.popLast() else { return }
            guard tasks.isEmpty else { return }
            let t = now()
            guard t - task.started >= minimumReported else { return }
            write(
                ProgressFormat.stamp(t - start)
                    + "\(task.label) \(task.done)/\(task.total) in \(ProgressFormat.duration(t - task.started))\n")
        }
    }
}
