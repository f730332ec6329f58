import Foundation

/// The distributed ``JobQueue``: a Redis stream read by a consumer group, as KEDA's `redis-streams` scaler reads
/// it (deploy/kustomize/components/async-worker).
///
/// Layout, for stream `S` (default `compress:jobs`) and group `G`:
/// - `S`: one entry per job (`id`, `model`, `payload`), `XADD … MAXLEN ~ maxLength` so memory stays bounded;
///   consumers read with `XREADGROUP GROUP G <consumer> COUNT n STREAMS S >` and acknowledge with `XACK`;
///   entries whose delivery is older than the visibility timeout are taken over with `XAUTOCLAIM` (a dead worker's
///   jobs); the group's `lag` (`XINFO GROUPS`, Redis 7) is what KEDA scales on.
/// - `S:job:<id>`: a hash with the job's state, delivery count, result and reason; it expires `resultTTL` after
///   completion. Completion is one Lua script (check state, store result, `XACK`), so two deliveries of a job can
///   race and only the first result is kept.
/// - `S:idem:<key>`: the job id of an idempotency key (`SET NX PX`), for `idempotencyWindow`.
/// - `S:dead`: the dead-letter stream (`id`, `model`, `attempts`, `reason`).
/// - `S:count:<name>`: totals (`enqueued`, `completed`, `failed`, `dead`) for metrics, bumped in the same
///   transaction as the change they count.
///
/// A restarted Redis without persistence loses the group: ``claim(consumer:max:)`` recreates it on `NOGROUP`.
///
/// Needs Redis ≥ 6.2 (`XAUTOCLAIM`); the lag that KEDA reads needs 7.0.
public final class RedisJobQueue: JobQueue {
    private let redis: RedisConnection
    private let config: QueueConfig
    public let stream: String
    public let group: String

    /// Connects and creates the consumer group (and the stream) if they do not exist.
    public init(
        host: String = "127.0.0.1", port: Int = 6379, stream: String = "compress:jobs", group: String = "compress-workers",
        password: String? = nil, config: QueueConfig = QueueConfig()
    ) throws {
        redis = try RedisConnection(host: host, port: port, password: password)
        self.config = config
        self.stream = stream
        self.group = group
        let info = try redis.command(["INFO", "server"]).text ?? ""
        if let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("redis_version:") }) {
            let parts = line.dropFirst("redis_version:".count).split(separator: ".").compactMap { Int($0) }
            if parts.count >= 2, (parts[0], parts[1]) < (6, 2) {
                throw QueueError("redis \(host):\(port): version \(line.dropFirst(14)) has no XAUTOCLAIM; need 6.2 or later")
            }
        }
        try createGroup()
    }

    private func createGroup() throws {
        // From 0, not $: jobs added before the group existed are delivered too.
        let created = try redis.command(["XGROUP", "CREATE", stream, group, "0", "MKSTREAM"])
        if case let .error(e) = created, !e.hasPrefix("BUSYGROUP") {
            throw QueueError("redis \(redis.host):\(redis.port): XGROUP CREATE \(stream) \(group): \(e)")
        }
    }

    private func counterKey(_ name: String) -> String { "\(stream):count:\(name)" }

    /// Times the connection was reopened after a failure (a restarted server), for metrics.
    public var reconnects: Int { redis.reconnectCount }

    private var deadStream: String { stream + ":dead" }
    private func jobKey(_ id: String) -> String { "\(stream):job:\(id)" }
    private func idempotencyKey(_ key: String) -> String { "\(stream):idem:\(key)" }

    @discardableResult
    private func run(_ args: [String]) throws -> RedisReply {
        try check(try redis.command(args), args)
    }

    @discardableResult
    private func run(_ args: [Data]) throws -> RedisReply {
        try check(try redis.command(args), args.prefix(2).map { String(decoding: $0, as: UTF8.self) })
    }

    private func strings(_ args: [String]) -> [Data] { args.map { Data($0.utf8) } }

    /// MULTI … EXEC on the connection, atomic against this process's other threads too.
    @discardableResult
    private func transaction(_ commands: [[Data]]) throws -> RedisReply {
        try check(try redis.transaction(commands), ["EXEC"])
    }

    private func check(_ reply: RedisReply, _ args: [String]) throws -> RedisReply {
        if case let .error(e) = reply {
            throw QueueError("redis \(redis.host):\(redis.port): \(args.prefix(2).joined(separator: " ")): \(e)")
        }
        return reply
    }

    public func enqueue(_ submission: JobSubmission) throws -> EnqueueOutcome {
        let id = UUID().uuidString.lowercased()
        if let key = submission.idempotencyKey {
            for _ in 0..<2 {
                let set = try run(["SET", idempotencyKey(key), id, "NX", "PX", String(config.idempotencyWindow.wholeMilliseconds)])
                if set != .null { break }
                if let existing = try run(["GET", idempotencyKey(key)]).text {
                    return EnqueueOutcome(id: existing, duplicate: true)
                }
                // The key expired between SET and GET: try to take it again.
            }
        }
        // The job's hash and its stream entry appear together.
        let exec = try transaction([
            strings(["HSET", jobKey(id), "state", "queued", "model", submission.model, "attempts", "0"]),
            strings(["INCR", counterKey("enqueued")]),
            [
                Data("XADD".utf8), Data(stream.utf8), Data("MAXLEN".utf8), Data("~".utf8), Data(String(config.maxLength).utf8),
                Data("*".utf8), Data("id".utf8), Data(id.utf8), Data("model".utf8), Data(submission.model.utf8),
                Data("payload".utf8), submission.payload,
            ],
        ])
        if let items = exec.array, let failed = items.first(where: { if case .error = $0 { return true } else { return false } }) {
            throw QueueError("redis \(redis.host):\(redis.port): enqueue \(id): \(failed)")
        }
        return EnqueueOutcome(id: id, duplicate: false)
    }

    /// Fields of a stream entry `[id, [k, v, k, v, …]]`.
    private func entry(_ reply: RedisReply) -> (entryID: String, fields: [String: Data])? {
        guard let parts = reply.array, parts.count == 2, let entryID = parts[0].text else { return nil }
        var fields: [String: Data] = [:]
        let kv = parts[1].array ?? []
        var i = 0
        while i + 1 < kv.count {
            if let k = kv[i].text { fields[k] = kv[i + 1].data }
            i += 2
        }
        return (entryID, fields)
    }

    public func claim(consumer: String, max: Int) throws -> [ClaimedJob] {
        do {
            return try claimOnce(consumer: consumer, max: max)
        } catch let e as QueueError where e.message.contains("NOGROUP") {
            // The server restarted without persistence (or the stream was deleted): the group is gone.
            try createGroup()
            return try claimOnce(consumer: consumer, max: max)
        }
    }

    private func claimOnce(consumer: String, max: Int) throws -> [ClaimedJob] {
        guard max > 0 else { return [] }
        var out: [ClaimedJob] = []
        // 1. Deliveries older than the visibility timeout: their consumer died or stalled.
        let auto = try run([
            "XAUTOCLAIM", stream, group, consumer, String(config.visibilityTimeout.wholeMilliseconds), "0-0", "COUNT", String(max),
        ]).array ?? []
        for e in (auto.count > 1 ? auto[1].array ?? [] : []) {
            guard let en = entry(e) else { continue }
            if let job = try deliver(entryID: en.entryID, fields: en.fields) { out.append(job) }
        }
        // Entries trimmed by MAXLEN while still pending: their payload is gone.
        for gone in (auto.count > 2 ? auto[2].array ?? [] : []) {
            guard let entryID = gone.text else { continue }
            try run(["XACK", stream, group, entryID])
            try run(["XADD", deadStream, "*", "id", "", "model", "", "attempts", "0", "reason", "entry \(entryID) trimmed by MAXLEN before completion"])
            try run(["INCR", counterKey("dead")])
        }
        // 2. New entries.
        if out.count < max {
            let read = try run(["XREADGROUP", "GROUP", group, consumer, "COUNT", String(max - out.count), "STREAMS", stream, ">"])
            for s in read.array ?? [] {
                for e in (s.array?.last?.array ?? []) {
                    guard let en = entry(e) else { continue }
                    if let job = try deliver(entryID: en.entryID, fields: en.fields) { out.append(job) }
                }
            }
        }
        return out
    }

    /// Counts the delivery; dead-letters a job past its attempts, skips one completed meanwhile.
    private func deliver(entryID: String, fields: [String: Data]) throws -> ClaimedJob? {
        let id = fields["id"].map { String(decoding: $0, as: UTF8.self) } ?? ""
        let model = fields["model"].map { String(decoding: $0, as: UTF8.self) } ?? ""
        if try run(["HGET", jobKey(id), "state"]).text == "done" {
            try run(["XACK", stream, group, entryID])
            return nil
        }
        let delivered = try run(["HINCRBY", jobKey(id), "attempts", "1"]).integer ?? 1
        let attempt = Int(delivered)
        if attempt > config.maxAttempts {
            try deadLetter(entryID: entryID, id: id, model: model, attempts: attempt - 1,
                           reason: "delivered \(attempt - 1) times without completing (visibility timeout expired)")
            return nil
        }
        try run(["HSET", jobKey(id), "state", "claimed"])
        return ClaimedJob(id: id, model: model, payload: fields["payload"] ?? Data(), attempt: attempt, receipt: entryID)
    }

    private func deadLetter(entryID: String, id: String, model: String, attempts: Int, reason: String) throws {
        try transaction([
            strings(["XADD", deadStream, "*", "id", id, "model", model, "attempts", String(attempts), "reason", reason]),
            strings(["HSET", jobKey(id), "state", "dead", "reason", reason, "attempts", String(attempts)]),
            strings(["PEXPIRE", jobKey(id), String(config.resultTTL.wholeMilliseconds)]),
            strings(["XACK", stream, group, entryID]),
            strings(["INCR", counterKey("dead")]),
        ])
    }

    /// Atomically: keep the first result only, then acknowledge the delivery.
    private static let completeScript = """
        local s = redis.call('HGET', KEYS[1], 'state')
        redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
        if (not s) or s == 'done' then return 0 end
        redis.call('HSET', KEYS[1], 'state', 'done', 'result', ARGV[3])
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        redis.call('INCR', KEYS[3])
        return 1
        """

    @discardableResult
    public func complete(_ job: ClaimedJob, result: Data) throws -> Bool {
        let reply = try run([
            Data("EVAL".utf8), Data(Self.completeScript.utf8), Data("3".utf8), Data(jobKey(job.id).utf8), Data(stream.utf8),
            Data(counterKey("completed").utf8),
            Data(group.utf8), Data(job.receipt.utf8), result, Data(String(config.resultTTL.wholeMilliseconds).utf8),
        ])
        return reply.integer == 1
    }

    /// Whether `job` is the job's current delivery: a stale consumer's report after a reclaim is ignored.
    private func isCurrent(_ job: ClaimedJob) throws -> Bool {
        let fields = try run(["HMGET", jobKey(job.id), "state", "attempts"]).array ?? []
        return fields.count == 2 && fields[0].text == "claimed" && fields[1].integer == Int64(job.attempt)
    }

    public func reject(_ job: ClaimedJob, reason: String) throws {
        guard try isCurrent(job) else { return }
        try run(["INCR", counterKey("failed")])
        try deadLetter(entryID: job.receipt, id: job.id, model: job.model, attempts: job.attempt, reason: reason)
    }

    public func fail(_ job: ClaimedJob, reason: String) throws {
        guard try isCurrent(job) else { return }
        try run(["INCR", counterKey("failed")])
        if job.attempt >= config.maxAttempts {
            try deadLetter(entryID: job.receipt, id: job.id, model: job.model, attempts: job.attempt,
                           reason: "failed \(job.attempt) times; last: \(reason)")
        } else {
            // The entry stays pending: XAUTOCLAIM hands it out again once the visibility timeout has passed.
            try run(["HSET", jobKey(job.id), "state", "queued", "reason", reason])
        }
    }

    public func status(of id: String) throws -> JobStatus? {
        let all = try run(["HGETALL", jobKey(id)]).array ?? []
        guard !all.isEmpty else { return nil }
        var f: [String: RedisReply] = [:]
        var i = 0
        while i + 1 < all.count {
            if let k = all[i].text { f[k] = all[i + 1] }
            i += 2
        }
        let attempts = Int(f["attempts"]?.integer ?? 0)
        switch f["state"]?.text {
        case "queued": return .queued(attempts: attempts)
        case "claimed": return .running(attempt: attempts)
        case "done": return .done(f["result"]?.data ?? Data())
        case "dead": return .dead(reason: f["reason"]?.text ?? "")
        default: return nil
        }
    }

    public func deadLetters(limit: Int) throws -> [DeadLetter] {
        try (run(["XRANGE", deadStream, "-", "+", "COUNT", String(limit)]).array ?? []).compactMap { e in
            guard let f = entry(e)?.fields else { return nil }
            func text(_ k: String) -> String { f[k].map { String(decoding: $0, as: UTF8.self) } ?? "" }
            return DeadLetter(id: text("id"), model: text("model"), attempts: Int(text("attempts")) ?? 0, reason: text("reason"))
        }
    }

    public func counters() throws -> QueueCounters {
        let names = ["enqueued", "completed", "failed", "dead"]
        let values = (try run(["MGET"] + names.map(counterKey)).array ?? []).map { Int($0.integer ?? 0) }
        guard values.count == 4 else { throw QueueError("redis \(redis.host):\(redis.port): MGET counters: unexpected reply") }
        return QueueCounters(enqueued: values[0], completed: values[1], failed: values[2], deadLettered: values[3])
    }

    public func depth() throws -> QueueDepth {
        var waiting = 0
        var inFlight = 0
        let groups: [RedisReply]
        do {
            groups = try run(["XINFO", "GROUPS", stream]).array ?? []
        } catch let e as QueueError where e.message.contains("no such key") {
            groups = []  // no stream yet (a fresh or restarted server): nothing queued
        }
        for g in groups {
            let kv = g.array ?? []
            var f: [String: RedisReply] = [:]
            var i = 0
            while i + 1 < kv.count {
                if let k = kv[i].text { f[k] = kv[i + 1] }
                i += 2
            }
            guard f["name"]?.text == group else { continue }
            inFlight = Int(f["pending"]?.integer ?? 0)
            if let lag = f["lag"]?.integer {
                waiting = Int(lag)
            } else if let last = f["last-delivered-id"]?.text {
                // Redis cannot tell the lag (e.g. after trimming): count the undelivered entries.
                waiting = try run(["XRANGE", stream, "(" + last, "+"]).array?.count ?? 0
            }
        }
        let dead = try run(["XLEN", deadStream]).integer ?? 0
        return QueueDepth(waiting: waiting, inFlight: inFlight, dead: Int(dead))
    }
}
