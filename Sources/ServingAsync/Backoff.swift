/// Exponential backoff with full jitter (AWS' "full jitter"), for reconnecting to a queue backend: the n-th wait is
/// uniform in 0...min(cap, base·2ⁿ), so many workers that lost the same server do not return in lockstep.
public struct Backoff: Sendable {
    public var base: Duration
    public var cap: Duration
    private(set) var attempt = 0

    public init(base: Duration = .milliseconds(50), cap: Duration = .seconds(5)) {
        self.base = base
        self.cap = cap
    }

    /// The next wait; each call doubles the bound up to `cap`.
    public mutating func next() -> Duration {
        let bound = min(cap, base * (1 << min(attempt, 20)))
        attempt += 1
        let ms = Double(bound.components.seconds) * 1000 + Double(bound.components.attoseconds) / 1e15
        return .milliseconds(Int64(Double.random(in: 0...1) * ms))
    }

    /// After a success: the next failure starts from `base` again.
    public mutating func reset() { attempt = 0 }
}
