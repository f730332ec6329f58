import Foundation
import Histogram
import ServingCore

/// Measurement settings shared by every load level.
public struct RunSettings: Sendable {
    /// Load before the first window, not counted (connections open, the server's caches warm).
    public var warmupSeconds: Double = 1
    /// Length of one measurement window (perf_analyzer `--measurement-interval`, in seconds here).
    public var windowSeconds: Double = 2
    public var stability = StabilityRule()
    /// Upper bound on one level's windows: measuring stops after this many seconds even when unstable.
    public var maxDurationSeconds: Double = 30
    /// A window also waits for this many completed requests (answers or failures) before it closes, so a slow or
    /// loaded host yields as many samples as a fast one (perf_analyzer's count-windows idea). 0 = time only.
    public var minWindowRequests: Int = 0
    /// Open loop: requests in flight at most; a full generator sends late, and the latency still counts from the
    /// intended time.
    public var maxOutstanding: Int = 1024
    /// Seed of the Poisson gaps (runs are repeatable).
    public var seed: UInt64 = 42

    public init() {}
}

/// Drives a ``LoadTarget`` at one load level: warm-up, then windows until the stability rule holds or the
/// duration bound is reached, with the server's statistics read at every window boundary.
public struct LoadRunner: Sendable {
    public let target: any LoadTarget
    public let requests: [BenchRequest]
    public let settings: RunSettings

    public init(target: any LoadTarget, requests: [BenchRequest], settings: RunSettings) {
        precondition(!requests.isEmpty, "at least one request to send")
        self.target = target
        self.requests = requests
        self.settings = settings
    }

    /// Runs one level; `progress` gets one line per window.
    public func run(_ mode: LoadMode, progress: (@Sendable (String) -> Void)? = nil) async -> LevelResult {
        let recorder = Recorder()
        let stop = Flag()
        let cycle = Cycle(count: requests.count)
        let target = self.target, requests = self.requests, settings = self.settings
        var windows: [WindowResult] = []
        var counts: [WindowCounts] = []
        var stable = false
        var serverDeltas: [InferenceStatistics?] = []
        await withDiscardingTaskGroup { group in
            switch mode {
            case let .concurrency(n):
                for slot in 0..<max(1, n) {
                    group.addTask {
                        while !stop.isSet && !Task.isCancelled {
                            let request = requests[cycle.next()]
                            let t0 = monotonicNanoseconds()
                            let outcome = await target.infer(request, slot: slot)
                            recorder.record(outcome, intendedNs: t0, sentNs: t0, doneNs: monotonicNanoseconds())
                        }
                    }
                }
            case let .rate(perSecond, poisson):
                group.addTask {
                    await Self.schedule(
                        perSecond: perSecond, poisson: poisson, seed: settings.seed, maxOutstanding: settings.maxOutstanding, stop: stop
                    ) {
                        let index = cycle.next()
                        let request = requests[index]
                        return { intended in
                            let sent = monotonicNanoseconds()
                            let outcome = await target.infer(request, slot: index)
                            recorder.record(outcome, intendedNs: intended, sentNs: sent, doneNs: monotonicNanoseconds())
                        }
                    }
                }
            }
            // The controller: warm-up, then windows.
            await Self.sleep(seconds: settings.warmupSeconds)
            _ = recorder.swap()
            var before = try? await target.statistics()
            let started = monotonicNanoseconds()
            var windowStart = started
            while true {
                await Self.sleep(seconds: settings.windowSeconds)
                while recorder.completed < settings.minWindowRequests && !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: 2_000_000)
                }
                let c = recorder.swap()
                let end = monotonicNanoseconds()
                let after = try? await target.statistics()
                let delta = after.flatMap { a in before.map { a.inferenceStats.delta(since: $0.inferenceStats) } }
                before = after
                let w = Self.window(index: windows.count, counts: c, seconds: Double(end - windowStart) / 1e9, server: delta)
                windowStart = monotonicNanoseconds()
                windows.append(w)
                counts.append(c)
                serverDeltas.append(delta)
                progress?(Self.progressLine(mode, w))
                stable = settings.stability.isStable(
                    throughputs: windows.map(\.throughput), latencies: windows.map { $0.latency.meanUs })
                if stable || Double(monotonicNanoseconds() - started) / 1e9 + settings.windowSeconds > settings.maxDurationSeconds
                    || stop.isSet
                {
                    break
                }
            }
            stop.set()
            group.cancelAll()
        }
        let k = min(windows.count, max(1, settings.stability.windows))
        let summary = Self.merge(windows: Array(windows.suffix(k)), counts: Array(counts.suffix(k)), server: Array(serverDeltas.suffix(k)))
        return LevelResult(mode: mode, stable: stable, windows: windows, summary: summary, firstError: counts.lazy.compactMap(\.firstError).first)
    }

    /// Open-loop sending: intended send times advance by 1/rate (or exponential gaps), independent of answers.
    /// `make` builds the request's work, which gets the intended time. At `maxOutstanding` requests in flight
    /// the schedule waits, and its requests are charged the wait.
    static func schedule(
        perSecond: Double, poisson: Bool, seed: UInt64, maxOutstanding: Int, stop: Flag,
        make: @escaping @Sendable () -> @Sendable (UInt64) async -> Void
    ) async {
        let gate = Gate(limit: max(1, maxOutstanding))
        var rng = SplitMix64(seed: seed)
        let meanGapNs = 1e9 / perSecond
        var intended = Double(monotonicNanoseconds())
        await withDiscardingTaskGroup { group in
            while !stop.isSet && !Task.isCancelled {
                let gap = poisson ? -log(1 - rng.nextUnit()) * meanGapNs : meanGapNs
                intended += gap
                let due = UInt64(intended)
                // Sleep until due, re-checking: a request sent before its intended time would be answered before
                // it, and a timer waking early was seen in an open-loop run (the latency went negative).
                var now = monotonicNanoseconds()
                while due > now {
                    try? await Task.sleep(nanoseconds: due - now)
                    if stop.isSet || Task.isCancelled { return }
                    now = monotonicNanoseconds()
                }
                while !gate.tryEnter() {
                    if stop.isSet || Task.isCancelled { return }
                    try? await Task.sleep(nanoseconds: 100_000)
                }
                let work = make()
                group.addTask {
                    await work(due)
                    gate.leave()
                }
            }
        }
    }

    static func window(index: Int, counts c: WindowCounts, seconds: Double, server: InferenceStatistics?) -> WindowResult {
        WindowResult(
            index: index, seconds: seconds, throughput: Double(c.successes) / max(seconds, 1e-9), latency: LatencySummary(c.latency),
            uncorrectedLatency: c.uncorrected.totalCount > 0 ? LatencySummary(c.uncorrected) : nil,
            statuses: Dictionary(uniqueKeysWithValues: c.statuses.map { (String($0.key), $0.value) }),
            components: ComponentBreakdown(
                requests: c.successes, serializeNs: c.serializeNs, sendWaitNs: c.sendWaitNs, deserializeNs: c.deserializeNs, server: server),
            lateSends: c.lateSends)
    }

    /// The windows' counts merged into one summary window.
    static func merge(windows: [WindowResult], counts: [WindowCounts], server: [InferenceStatistics?]) -> WindowResult {
        var total = WindowCounts()
        for c in counts {
            total.latency.add(c.latency)
            total.uncorrected.add(c.uncorrected)
            total.successes += c.successes
            for (k, v) in c.statuses { total.statuses[k, default: 0] += v }
            total.serializeNs += c.serializeNs
            total.sendWaitNs += c.sendWaitNs
            total.deserializeNs += c.deserializeNs
            total.lateSends += c.lateSends
        }
        var serverTotal: InferenceStatistics? = server.allSatisfy { $0 != nil } && !server.isEmpty ? InferenceStatistics() : nil
        if serverTotal != nil {
            for s in server.compactMap({ $0 }) { serverTotal = serverTotal!.adding(s) }
        }
        return window(index: -1, counts: total, seconds: windows.reduce(0) { $0 + $1.seconds }, server: serverTotal)
    }

    static func progressLine(_ mode: LoadMode, _ w: WindowResult) -> String {
        var s = String(
            format: "%@ · window %d: %.1f req/s, p50 %@, p99 %@", mode.label, w.index + 1, w.throughput, formatMicros(w.latency.p50Us),
            formatMicros(w.latency.p99Us))
        if w.errors > 0 { s += ", \(w.errors) errors" }
        if w.lateSends > 0 { s += ", \(w.lateSends) late sends" }
        return s
    }

    static func sleep(seconds: Double) async {
        try? await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
    }
}

extension InferenceStatistics {
    /// Field-by-field sum (merging windows' deltas).
    func adding(_ o: InferenceStatistics) -> InferenceStatistics {
        func a(_ x: StatDuration, _ y: StatDuration) -> StatDuration { StatDuration(count: x.count + y.count, ns: x.ns + y.ns) }
        var r = InferenceStatistics()
        r.success = a(success, o.success)
        r.fail = a(fail, o.fail)
        r.queue = a(queue, o.queue)
        r.computeInput = a(computeInput, o.computeInput)
        r.computeInfer = a(computeInfer, o.computeInfer)
        r.computeOutput = a(computeOutput, o.computeOutput)
        return r
    }
}

/// µs below 1 ms, ms with two decimals above.
public func formatMicros(_ us: Double) -> String {
    us < 1000 ? String(format: "%.0f µs", us) : String(format: "%.2f ms", us / 1000)
}

/// A one-way stop signal shared by workers.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// Round-robin over the request list, shared by workers (inputs are cycled, as perf_analyzer cycles its data).
final class Cycle: @unchecked Sendable {
    private let lock = NSLock()
    private var i = 0
    private let count: Int
    init(count: Int) { self.count = count }
    func next() -> Int {
        lock.withLock {
            defer { i = (i + 1) % count }
            return i
        }
    }
}

/// Counts requests in flight against a limit.
final class Gate: @unchecked Sendable {
    private let lock = NSLock()
    private var inFlight = 0
    private let limit: Int
    init(limit: Int) { self.limit = limit }
    func tryEnter() -> Bool {
        lock.withLock {
            guard inFlight < limit else { return false }
            inFlight += 1
            return true
        }
    }
    func leave() { lock.withLock { inFlight -= 1 } }
}

/// A small seeded generator (SplitMix64) for repeatable Poisson gaps and random inputs.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
