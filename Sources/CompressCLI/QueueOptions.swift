import ArgumentParser
import Foundation
import ServingQueue

/// The job queue options `compress serve --async` and `compress worker` share.
struct QueueOptions: ParsableArguments {
    @Option(name: .long, help: "The job queue: sqlite:PATH (embedded, one machine) or redis://HOST:PORT (Redis Streams; REDIS_PASSWORD is sent with AUTH).")
    var queue = "sqlite:compress-jobs.sqlite"
    @Option(name: .long, help: "Redis stream holding the jobs.")
    var stream = "compress:jobs"
    @Option(name: .long, help: "Redis consumer group of the workers.")
    var group = "compress-workers"
    @Option(name: .long, help: "Milliseconds a claimed job stays with its worker before another may reclaim it.")
    var visibilityTimeoutMs = 60_000
    @Option(name: .long, help: "Deliveries of a job before it is dead-lettered.")
    var maxAttempts = 3
    @Option(name: .long, help: "Seconds a finished job's result stays readable.")
    var resultTtl = 3600
    @Option(name: .long, help: "Approximate cap on the Redis stream's length (XADD MAXLEN ~).")
    var maxLength = 1_000_000

    func validate() throws {
        if visibilityTimeoutMs < 1 || maxAttempts < 1 || resultTtl < 1 || maxLength < 1 {
            throw ValidationError("--visibility-timeout-ms, --max-attempts, --result-ttl and --max-length must be positive")
        }
        _ = try target()
    }

    enum Target: Equatable {
        case sqlite(String)
        case redis(host: String, port: Int)
    }

    /// The backend named by --queue.
    func target() throws -> Target {
        if queue.hasPrefix("sqlite:") {
            let path = String(queue.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw ValidationError("--queue sqlite:PATH needs a path") }
            return .sqlite(path)
        }
        if queue.hasPrefix("redis://") {
            let rest = queue.dropFirst("redis://".count).split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
            let parts = rest.split(separator: ":")
            guard parts.count <= 2, let host = parts.first.map(String.init), !host.isEmpty else {
                throw ValidationError("--queue redis://HOST:PORT, got '\(queue)'")
            }
            guard let port = parts.count == 2 ? Int(parts[1]) : 6379, (1...65535).contains(port) else {
                throw ValidationError("--queue '\(queue)': the port must be within 1...65535")
            }
            return .redis(host: host, port: port)
        }
        throw ValidationError("--queue must be sqlite:PATH or redis://HOST:PORT, got '\(queue)'")
    }

    var config: QueueConfig {
        QueueConfig(
            visibilityTimeout: .milliseconds(visibilityTimeoutMs), maxAttempts: maxAttempts, resultTTL: .seconds(resultTtl),
            maxLength: maxLength)
    }

    /// Opens the queue; a Redis that is not up yet is retried with backoff for `waitSeconds` (workers may start
    /// before the server).
    func open(waitSeconds: Double = 30) throws -> any JobQueue {
        switch try target() {
        case let .sqlite(path):
            return try SQLiteJobQueue(path: path, config: config)
        case let .redis(host, port):
            let password = ProcessInfo.processInfo.environment["REDIS_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
            let deadline = Date().addingTimeInterval(waitSeconds)
            var wait = 0.05
            while true {
                do {
                    return try RedisJobQueue(host: host, port: port, stream: stream, group: group, password: password, config: config)
                } catch {
                    if Date() > deadline { throw error }
                    FileHandle.standardError.write(Data("compress: redis \(host):\(port) not reachable yet (\(error)); retrying\n".utf8))
                    Thread.sleep(forTimeInterval: Double.random(in: 0...wait))
                    wait = min(wait * 2, 5)
                }
            }
        }
    }

    /// The label a metrics scrape gives the queue.
    var streamLabel: String {
        if case let .sqlite(path)? = try? target() { return "sqlite:" + path }
        return stream
    }
}
