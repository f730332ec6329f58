/// Where long work reports how far it got: stage messages, and determinate tasks (a known number of steps) that may
/// nest (calibration batches inside "quantize 12/36"). Libraries take one and call it; the command picks how it
/// is shown (``TerminalProgress``, ``LineProgress``, or ``silent``), so stdout and `--json` never see progress.
///
/// ```swift
/// try progress.task("calibration", total: batches.count) { task in
///     for b in batches { try run(b); task.advance() }
/// }
/// ```
public struct ProgressReporter: Sendable {
    let renderer: (any ProgressRenderer)?

    /// Reports to `renderer` (nil: nothing).
    public init(_ renderer: (any ProgressRenderer)?) { self.renderer = renderer }

    /// Reports nothing.
    public static let silent = ProgressReporter(nil)

    /// A one-off line ("stage 2/4: quantize", "wrote out.md").
    public func message(_ text: String) { renderer?.message(text) }

    /// Starts a task of `total` steps, nested in the current one if any; pair with ``end()``.
    public func begin(total: Int, label: String) { renderer?.begin(total: total, label: label) }

    /// Marks `n` more steps of the innermost task done.
    public func advance(by n: Int = 1) { renderer?.advance(by: n) }

    /// Ends the innermost task (a terminal clears its bar once no task is left).
    public func end() { renderer?.end() }

    /// Runs `body` as a task of `total` steps and ends it even when `body` throws (so a bar never lingers above
    /// an error message).
    public func task<T>(_ label: String, total: Int, _ body: (ProgressReporter) throws -> T) rethrows -> T {
        begin(total: total, label: label)
        defer { end() }
        return try body(self)
    }
}

/// Shows progress events; implementations serialize calls themselves (the reporter may be shared across threads).
public protocol ProgressRenderer: AnyObject, Sendable {
    func message(_ text: String)
    func begin(total: Int, label: String)
    func advance(by n: Int)
    func end()
}

/// One running task, as renderers track it.
public struct ProgressTask: Sendable, Equatable {
    public var label: String
    public var total: Int
    public var done: Int
    /// Clock reading at `begin`, in seconds.
    public var started: Double

    public init(label: String, total: Int, done: Int = 0, started: Double) {
        self.label = label
        self.total = total
        self.done = done
        self.started = started
    }
}
