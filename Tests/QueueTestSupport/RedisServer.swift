import Foundation
import ServingQueue

/// A private redis-server for one test, on a random loopback port, with no persistence; stopped by `stop()`.
///
/// It runs under a small shell watchdog that also stops it if the test process dies (a `kill -9` of `swift test`
/// must not leave a server behind). Both are stopped with SIGKILL: the test runner blocks SIGTERM/SIGINT in its
/// threads and children inherit that mask, so a TERM would never arrive. redis-server comes from Debian's
/// `redis-server` package (`make deps`).
public final class RedisServer: @unchecked Sendable {
    public let port: Int
    private var process: Process
    private var serverPID: pid_t
    private let lock = NSLock()
    private var stopped = false

    /// Kills the server and starts a new one on the same port (a restart: the data is gone, no persistence).
    public func restart() throws -> Bool {
        kill(serverPID, SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        Thread.sleep(forTimeInterval: 0.3)  // an outage the worker has to ride out
        let (p, pid) = try Self.start(port: port)
        process = p
        serverPID = pid
        return true
    }

    public init() throws {
        var lastError: Error?
        for _ in 0..<5 {
            let port = Int.random(in: 20_000..<60_000)
            do {
                (process, serverPID) = try Self.start(port: port)
                self.port = port
                return
            } catch { lastError = error }
        }
        throw lastError ?? QueueError("redis-server did not start")
    }

    private static func start(port: Int) throws -> (Process, pid_t) {
        guard let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }) else {
            throw QueueError("redis-server not installed: `make deps` (or apt-get install redis-server)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        let parent = ProcessInfo.processInfo.processIdentifier
        p.arguments = [
            "-c",
            """
            \(binary) --port \(port) --bind 127.0.0.1 --save '' --appendonly no --daemonize no --loglevel warning &
            r=$!
            while kill -0 \(parent) 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.2; done
            kill -9 $r 2>/dev/null
            """,
        ]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if let c = try? RedisConnection(host: "127.0.0.1", port: port, timeout: .milliseconds(200)),
                let info = (try? c.command(["INFO", "server"]))?.text,
                let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("process_id:") }),
                let pid = pid_t(line.dropFirst("process_id:".count))
            {
                return (p, pid)
            }
            if !p.isRunning { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        kill(p.processIdentifier, SIGKILL)
        throw QueueError("redis-server did not start on port \(port)")
    }

    /// Kills the server; the watchdog sees it gone and exits. Never waits more than 5 s.
    public func stop() {
        // Once only: a second kill could hit a reused pid.
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        kill(serverPID, SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    deinit { stop() }
}
