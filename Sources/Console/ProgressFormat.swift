/// The text of progress output, as pure functions of task state and a clock reading (tested without a terminal).
public enum ProgressFormat {
    /// `[███████░░░░░░░░░]`: `width` cells between brackets, `fraction` clamped to 0…1.
    public static func bar(fraction: Double, width: Int) -> String {
        let f = fraction.isFinite ? min(1, max(0, fraction)) : 0
        let filled = Int((f * Double(width)).rounded(.down))
        return "[" + String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled) + "]"
    }

    /// A short duration: `7s`, `1m05s`, `2h03m`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(pad2(s % 60))s" }
        return "\(s / 3600)h\(pad2(s / 60 % 60))m"
    }

    /// Steps per second (`12.5/s`), or seconds per step when slower than one a second (`4.2s/it`); `-` before any.
    public static func rate(done: Int, elapsed: Double) -> String {
        guard done > 0, elapsed > 0 else { return "-/s" }
        let r = Double(done) / elapsed
        return r >= 1 ? "\(fixed1(r))/s" : "\(fixed1(1 / r))s/it"
    }

    /// Time left at the average rate so far (`?` before the first step).
    public static func eta(_ task: ProgressTask, now: Double) -> String {
        let elapsed = now - task.started
        guard task.done > 0, elapsed > 0 else { return "?" }
        return duration(Double(max(0, task.total - task.done)) * elapsed / Double(task.done))
    }

    /// The terminal line: the outermost task with bar, count, rate and ETA (the work the user waits for), then the
    /// tasks nested in it as `· label done/total`; cut to `columns - 1` so it never wraps (a wrapped line cannot
    /// be redrawn with `\r`).
    ///
    /// `quantize [████░░░░░░░░░░░░░░░░] 9/36  1.2/s  ETA 23s · calibration 3/63`
    public static func line(_ tasks: [ProgressTask], now: Double, columns: Int, barWidth: Int = 20) -> String {
        guard let outer = tasks.first else { return "" }
        var s = "\(outer.label) \(bar(fraction: Double(outer.done) / Double(max(outer.total, 1)), width: barWidth)) "
        s += "\(outer.done)/\(outer.total)  \(rate(done: outer.done, elapsed: now - outer.started))  ETA \(eta(outer, now: now))"
        for t in tasks.dropFirst() { s += " · \(t.label) \(t.done)/\(t.total)" }
        let limit = max(columns - 1, 1)
        return s.count > limit ? String(s.prefix(limit)) : s
    }

    /// `[  12.3s] ` — seconds since the command started, as message lines have always been stamped.
    public static func stamp(_ seconds: Double) -> String {
        let text = fixed1(max(0, seconds))
        return "[" + String(repeating: " ", count: max(0, 6 - text.count)) + text + "s] "
    }

    static func pad2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// One decimal, without Foundation's String(format:).
    static func fixed1(_ x: Double) -> String {
        let tenths = Int((x * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
