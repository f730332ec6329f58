import CHiredis
import Foundation

/// A Redis reply, copied out of hiredis' `redisReply` tree (which is freed at once).
public enum RedisReply: Sendable, Equatable {
    case bulk(Data)
    case status(String)
    case int(Int64)
    case list([RedisReply])
    case null
    case error(String)

    /// The bulk or status string as UTF-8 text, if it is one.
    public var text: String? {
        switch self {
        case let .bulk(d): return String(decoding: d, as: UTF8.self)
        case let .status(s): return s
        default: return nil
        }
    }

    public var integer: Int64? {
        if case let .int(i) = self { return i }
        return text.flatMap { Int64($0) }
    }

    public var array: [RedisReply]? {
        if case let .list(a) = self { return a }
        return nil
    }

    public var data: Data? {
        switch self {
        case let .bulk(d): return d
        case let .status(s): return Data(s.utf8)
        default: return nil
        }
    }
}

/// One blocking hiredis connection, serialized by a lock (a `redisContext` is not thread-safe). Commands go
/// through `redisCommandArgv` with explicit lengths, so payloads are binary-safe and nothing is printf-formatted.
/// A broken connection is reopened once per command before the error reaches the caller.
public final class RedisConnection: @unchecked Sendable {
    private let lock = NSLock()
    private var context: UnsafeMutablePointer<redisContext>?
    public let host: String
    public let port: Int
    private let timeout: Duration
    private let password: String?
    /// Successful reconnects after the first connection (a restarted or failed-over server).
    private var reconnects = 0
    private var everConnected = false

    /// Successful reconnects after the first connection (a restarted or failed-over server).
    public var reconnectCount: Int { lock.withLock { reconnects } }

    /// `password`: sent with `AUTH` on every (re)connection.
    public init(host: String, port: Int, password: String? = nil, timeout: Duration = .seconds(5)) throws {
        self.host = host
        self.port = port
        self.timeout = timeout
        self.password = password
        try lock.withLock { try connect() }
    }

    deinit {
        if let context { redisFree(context) }
    }

    private var timeoutValue: timeval {
        let ms = timeout.wholeMilliseconds
        return timeval(tv_sec: Int(ms / 1000), tv_usec: Int((ms % 1000) * 1000))
    }

    private func connect() throws {
        if let context { redisFree(context) }
        context = nil
        guard let c = redisConnectWithTimeout(host, Int32(port), timeoutValue) else {
            throw QueueError("redis \(host):\(port): cannot allocate a connection")
        }
        if c.pointee.err != 0 {
            let message = errorString(c)
            redisFree(c)
            throw QueueError("redis \(host):\(port): \(message)")
        }
        _ = redisSetTimeout(c, timeoutValue)
        context = c
        if let password {
            if case let .error(e) = try send([Data("AUTH".utf8), Data(password.utf8)]) {
                redisFree(c)
                context = nil
                throw QueueError("redis \(host):\(port): AUTH: \(e)")
            }
        }
        if everConnected { reconnects += 1 }
        everConnected = true
    }

    private func errorString(_ c: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: c.pointee.errstr) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    /// Runs one command, e.g. `try conn.command(["XACK", stream, group, id])`.
    @discardableResult
    public func command(_ args: [String]) throws -> RedisReply {
        try command(args.map { Data($0.utf8) })
    }

    /// Runs one command with binary arguments.
    @discardableResult
    public func command(_ args: [Data]) throws -> RedisReply {
        try lock.withLock {
            do {
                return try send(args)
            } catch {
                // One reconnect: a server restart or an idle connection closed by the server.
                try connect()
                return try send(args)
            }
        }
    }

    /// Runs `commands` as one `MULTI … EXEC` transaction and returns EXEC's reply. The connection is held for the
    /// whole transaction: callers on other threads cannot slip commands into it (each `command` call takes the
    /// lock alone, so a transaction built from separate calls would interleave with theirs).
    @discardableResult
    public func transaction(_ commands: [[Data]]) throws -> RedisReply {
        try lock.withLock {
            func attempt() throws -> RedisReply {
                _ = try send([Data("MULTI".utf8)])
                for c in commands {
                    if case let .error(e) = try send(c) {
                        _ = try? send([Data("DISCARD".utf8)])
                        throw QueueError("redis \(host):\(port): \(String(decoding: c.first ?? Data(), as: UTF8.self)) in MULTI: \(e)")
                    }
                }
                return try send([Data("EXEC".utf8)])
            }
            do {
                return try attempt()
            } catch let e as QueueError where e.message.contains(" in MULTI: ") {
                throw e
            } catch {
                // The connection broke: a new one has no half-built transaction, so the whole one is retried once.
                try connect()
                return try attempt()
            }
        }
    }

    private func send(_ args: [Data]) throws -> RedisReply {
        guard let c = context else { throw QueueError("redis \(host):\(port): not connected") }
        var joined = Data()
        var lengths: [Int] = []
        for a in args {
            joined.append(a)
            lengths.append(a.count)
        }
        if joined.isEmpty { joined.append(0) }  // a valid base pointer even when every argument is empty
        let raw: UnsafeMutableRawPointer? = joined.withUnsafeBytes { bytes in
            let base = bytes.baseAddress!.assumingMemoryBound(to: CChar.self)
            var pointers: [UnsafePointer<CChar>?] = []
            var offset = 0
            for n in lengths {
                pointers.append(base + offset)
                offset += n
            }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { argvlen in
                    redisCommandArgv(c, Int32(args.count), argv.baseAddress, argvlen.baseAddress)
                }
            }
        }
        guard let raw else {
            throw QueueError("redis \(host):\(port): \(args.first.map { String(decoding: $0, as: UTF8.self) } ?? ""): \(errorString(c))")
        }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return Self.convert(reply)
    }

    private static func convert(_ r: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let p = r.pointee
        switch p.type {
        case REDIS_REPLY_STRING:
            return .bulk(p.str.map { Data(bytes: $0, count: p.len) } ?? Data())
        case REDIS_REPLY_STATUS:
            return .status(p.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: p.len), as: UTF8.self) } ?? "")
        case REDIS_REPLY_ERROR:
            return .error(p.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: p.len), as: UTF8.self) } ?? "")
        case REDIS_REPLY_INTEGER:
            return .int(p.integer)
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(p.elements)
            for i in 0..<p.elements {
                if let e = p.element[i] { items.append(convert(e)) } else { items.append(.null) }
            }
            return .list(items)
        default:
            return .null
        }
    }
}
