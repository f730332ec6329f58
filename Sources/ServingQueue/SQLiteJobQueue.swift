import Foundation
import GRDB

/// The embedded ``JobQueue``: one SQLite file through GRDB, in WAL mode (a `DatabasePool`), so `compress serve
/// --async` works on a laptop without a server, and the API and workers of one machine can share it.
///
/// Every operation is one write transaction (SQLite serializes writers), so a claim never hands the same job to
/// two consumers and a completion is recorded once. Expired results are deleted as new jobs arrive. Unlike the
/// Redis backend it does not cap its length (``QueueConfig/maxLength``): the disk is the limit.
public final class SQLiteJobQueue: JobQueue {
    private let pool: DatabasePool
    private let config: QueueConfig

    /// Opens (creating if needed) the queue at `path`.
    public init(path: String, config: QueueConfig = QueueConfig()) throws {
        var c = Configuration()
        // Concurrent writers (API + workers) wait for each other rather than failing with SQLITE_BUSY.
        c.busyMode = .timeout(10)
        let opened: DatabasePool
        do {
            opened = try DatabasePool(path: path, configuration: c)
            try Self.migrator.migrate(opened)
        } catch {
            throw QueueError("sqlite queue \(path): cannot open: \(error)")
        }
        pool = opened
        self.config = config
    }

    private static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            // Rows are ordered by rowid (insertion order); `claimed_until` doubles as "not before" for retries.
            try db.execute(
                sql: """
                    CREATE TABLE job (
                        id TEXT PRIMARY KEY NOT NULL,
                        idempotency_key TEXT UNIQUE,
                        idempotency_expires REAL,
                        model TEXT NOT NULL,
                        payload BLOB NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'done', 'dead')),
                        attempts INTEGER NOT NULL DEFAULT 0,
                        receipt TEXT,
                        claimed_until REAL,
                        result BLOB,
                        result_expires REAL,
                        reason TEXT,
                        enqueued_at REAL NOT NULL
                    );
                    CREATE INDEX job_state ON job(state, claimed_until);
                    CREATE INDEX job_result_expires ON job(result_expires) WHERE state = 'done';
                    """)
        }
        m.registerMigration("v2-counters") { db in
            // Totals for metrics, bumped in the transaction that makes the change they count.
            try db.execute(sql: "CREATE TABLE counter (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)")
        }
        return m
    }

    private func bump(_ db: Database, _ name: String) throws {
        try db.execute(
            sql: "INSERT INTO counter (name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1", arguments: [name])
    }

    private func now() -> Double { Date().timeIntervalSince1970 }

    private func run<T>(_ what: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.write(body)
        } catch let e as QueueError {
            throw e
        } catch {
            throw QueueError("sqlite queue: \(what): \(error)")
        }
    }

    public func enqueue(_ submission: JobSubmission) throws -> EnqueueOutcome {
        try run("enqueue") { db in
            let t = now()
            try db.execute(sql: "DELETE FROM job WHERE state = 'done' AND result_expires <= ?", arguments: [t])
            if let key = submission.idempotencyKey {
                if let row = try Row.fetchOne(
                    db, sql: "SELECT id, idempotency_expires FROM job WHERE idempotency_key = ?", arguments: [key])
                {
                    if (row["idempotency_expires"] as Double? ?? 0) > t {
                        return EnqueueOutcome(id: row["id"], duplicate: true)
                    }
                    // The window passed: the key may name a new job.
                    try db.execute(sql: "UPDATE job SET idempotency_key = NULL WHERE idempotency_key = ?", arguments: [key])
                }
            }
            let id = UUID().uuidString.lowercased()
            try db.execute(
                sql: """
                    INSERT INTO job (id, idempotency_key, idempotency_expires, model, payload, state, enqueued_at)
                    VALUES (?, ?, ?, ?, ?, 'queued', ?)
                    """,
                arguments: [
                    id, submission.idempotencyKey, submission.idempotencyKey.map { _ in t + config.idempotencyWindow.secondsValue },
                    submission.model, submission.payload, t,
                ])
            try bump(db, "enqueued")
            return EnqueueOutcome(id: id, duplicate: false)
        }
    }

    public func claim(consumer: String, max: Int) throws -> [ClaimedJob] {
        guard max > 0 else { return [] }
        return try run("claim") { db in
            let t = now()
            var out: [ClaimedJob] = []
            // Expired claims first (their consumer died or stalled), then new or retry-ready jobs, oldest first.
            let expired = try Row.fetchAll(
                db,
                sql: "SELECT id, model, payload, attempts FROM job WHERE state = 'claimed' AND claimed_until <= ? ORDER BY rowid LIMIT ?",
                arguments: [t, max])
            let ready = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, model, payload, attempts FROM job
                    WHERE state = 'queued' AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY rowid LIMIT ?
                    """,
                arguments: [t, max])
            for row in expired + ready {
                if out.count == max { break }
                let id: String = row["id"]
                let attempts: Int = row["attempts"]
                if attempts >= config.maxAttempts {
                    try db.execute(
                        sql: "UPDATE job SET state = 'dead', reason = ?, receipt = NULL WHERE id = ?",
                        arguments: ["delivered \(attempts) times without completing (visibility timeout expired)", id])
                    try bump(db, "dead")
                    continue
                }
                let receipt = UUID().uuidString.lowercased()
                try db.execute(
                    sql: "UPDATE job SET state = 'claimed', attempts = attempts + 1, receipt = ?, claimed_until = ? WHERE id = ?",
                    arguments: [receipt, t + config.visibilityTimeout.secondsValue, id])
                out.append(ClaimedJob(id: id, model: row["model"], payload: row["payload"], attempt: attempts + 1, receipt: receipt))
            }
            return out
        }
    }

    @discardableResult
    public func complete(_ job: ClaimedJob, result: Data) throws -> Bool {
        try run("complete \(job.id)") { db in
            guard let state = try String.fetchOne(db, sql: "SELECT state FROM job WHERE id = ?", arguments: [job.id]),
                state != "done"
            else { return false }
            try db.execute(
                sql: """
                    UPDATE job SET state = 'done', result = ?, result_expires = ?, payload = x'', receipt = NULL,
                    claimed_until = NULL WHERE id = ?
                    """,
                arguments: [result, now() + config.resultTTL.secondsValue, job.id])
            try bump(db, "completed")
            return true
        }
    }

    public func fail(_ job: ClaimedJob, reason: String) throws {
        try run("fail \(job.id)") { db in
            // Only the current delivery may fail the job: a stale consumer's report after a reclaim is ignored.
            guard let row = try Row.fetchOne(db, sql: "SELECT state, receipt, attempts FROM job WHERE id = ?", arguments: [job.id]),
                row["state"] as String == "claimed", row["receipt"] as String? == job.receipt
            else { return }
            let attempts: Int = row["attempts"]
            try bump(db, "failed")
            if attempts >= config.maxAttempts {
                try db.execute(
                    sql: "UPDATE job SET state = 'dead', reason = ?, receipt = NULL WHERE id = ?",
                    arguments: ["failed \(attempts) times; last: \(reason)", job.id])
                try bump(db, "dead")
            } else {
                try db.execute(
                    sql: "UPDATE job SET state = 'queued', reason = ?, receipt = NULL, claimed_until = ? WHERE id = ?",
                    arguments: [reason, now() + config.visibilityTimeout.secondsValue, job.id])
            }
        }
    }

    public func reject(_ job: ClaimedJob, reason: String) throws {
        try run("reject \(job.id)") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT state, receipt FROM job WHERE id = ?", arguments: [job.id]),
                row["state"] as String == "claimed", row["receipt"] as String? == job.receipt
            else { return }
            try db.execute(
                sql: "UPDATE job SET state = 'dead', reason = ?, receipt = NULL, payload = x'' WHERE id = ?", arguments: [reason, job.id])
            try bump(db, "failed")
            try bump(db, "dead")
        }
    }

    public func counters() throws -> QueueCounters {
        try pool.read { db in
            var c = QueueCounters()
            for row in try Row.fetchAll(db, sql: "SELECT name, value FROM counter") {
                let v: Int = row["value"]
                switch row["name"] as String {
                case "enqueued": c.enqueued = v
                case "completed": c.completed = v
                case "failed": c.failed = v
                case "dead": c.deadLettered = v
                default: break
                }
            }
            return c
        }
    }

    public func status(of id: String) throws -> JobStatus? {
        try run("status \(id)") { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT state, attempts, result, result_expires, reason FROM job WHERE id = ?", arguments: [id])
            else { return nil }
            switch row["state"] as String {
            case "queued": return .queued(attempts: row["attempts"])
            case "claimed": return .running(attempt: row["attempts"])
            case "dead": return .dead(reason: (row["reason"] as String?) ?? "")
            default:
                if (row["result_expires"] as Double? ?? 0) <= now() {
                    try db.execute(sql: "DELETE FROM job WHERE id = ?", arguments: [id])
                    return nil
                }
                return .done((row["result"] as Data?) ?? Data())
            }
        }
    }

    public func deadLetters(limit: Int) throws -> [DeadLetter] {
        try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, model, attempts, reason FROM job WHERE state = 'dead' ORDER BY rowid LIMIT ?", arguments: [limit]
            ).map { DeadLetter(id: $0["id"], model: $0["model"], attempts: $0["attempts"], reason: ($0["reason"] as String?) ?? "") }
        }
    }

    public func depth() throws -> QueueDepth {
        try pool.read { db in
            let waiting = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM job WHERE state = 'queued' AND attempts = 0") ?? 0
            let inFlight =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM job WHERE state = 'claimed' OR (state = 'queued' AND attempts > 0)") ?? 0
            let dead = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM job WHERE state = 'dead'") ?? 0
            return QueueDepth(waiting: waiting, inFlight: inFlight, dead: dead)
        }
    }

    /// The journal mode SQLite reports (`wal` for a pool); tests check it.
    public func journalMode() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }
}
