import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A minimal HTTP/1.1 keep-alive client for the load loop: raw NIO channels (NIO's request encoder and response
/// decoder, one exchange handler), one request in flight per connection, idle connections reused LIFO.
///
/// Why not async-http-client here: its per-request machinery (connection-pool state machine, request
/// preparation that re-parses the URL, a bag of per-request state) cost the bench ~2.5× perf_analyzer's client
/// CPU per request on the digits CNN (BENCHMARKS.md, issue 10), and on a 2-core host that CPU is part of the
/// latency being measured. perf_analyzer's HTTP client is a blocking connection per concurrent request; this is
/// the same shape on event loops. async-http-client still does the cold paths (metadata, statistics).
final class HTTP1Connections: Sendable {
    /// One answer: status, the binary-extension header length and the whole body.
    struct Response: Sendable {
        var status: Int
        var inferenceHeaderLength: Int?
        var body: ByteBuffer
        /// False when the server asked to close (`Connection: close`): the connection is not reused.
        var keepAlive: Bool
    }

    private let host: String
    private let port: Int
    private let group: any EventLoopGroup
    private let idle = Mutex<[Channel]>([])
    private let closed = Mutex(false)

    init(host: String, port: Int, group: any EventLoopGroup) {
        self.host = host
        self.port = port
        self.group = group
    }

    /// Sends `head` and `body` on an idle connection (or a new one) and waits for the whole answer.
    func send(head: HTTPRequestHead, body: ByteBuffer) async throws -> Response {
        let channel = try await take()
        let promise = channel.eventLoop.makePromise(of: Response.self)
        // A failed write (the server closed the connection meanwhile) fails the exchange; completing a promise
        // twice is a no-op in NIO, so the handler's own failure on close may race this one harmlessly.
        channel.writeAndFlush(Exchange(head: head, body: body, response: promise)).whenFailure { promise.fail($0) }
        do {
            let response = try await promise.futureResult.get()
            if response.keepAlive { give(channel) } else { channel.close(promise: nil) }
            return response
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    /// Closes every idle connection; later sends fail.
    func shutdown() async {
        closed.withLock { $0 = true }
        let channels = idle.withLock { all -> [Channel] in
            defer { all.removeAll() }
            return all
        }
        for channel in channels { try? await channel.close() }
    }

    private func take() async throws -> Channel {
        if closed.withLock({ $0 }) { throw ChannelError.ioOnClosedChannel }
        while let channel = idle.withLock({ $0.popLast() }) {
            if channel.isActive { return channel }
        }
        return try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .dropBytes)
                    try channel.pipeline.syncOperations.addHandler(ExchangeHandler())
                }
            }
            .connect(host: host, port: port).get()
    }

    private func give(_ channel: Channel) {
        let keep = !closed.withLock { $0 } && channel.isActive
        if keep { idle.withLock { $0.append(channel) } } else { channel.close(promise: nil) }
    }

    /// What the load loop writes into a channel: the request and the promise its answer completes.
    struct Exchange: Sendable {
        var head: HTTPRequestHead
        var body: ByteBuffer
        var response: EventLoopPromise<Response>
    }

    /// Writes an exchange's request parts and gathers the answer's parts into its promise; fails it when the
    /// connection errors or closes first.
    private final class ExchangeHandler: ChannelDuplexHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundIn = Exchange
        typealias OutboundOut = HTTPClientRequestPart

        private var pending: EventLoopPromise<Response>?
        private var head: HTTPResponseHead?
        private var body: ByteBuffer?

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            let exchange = unwrapOutboundIn(data)
            if let previous = pending {
                // One request in flight per connection: a second one is a bug in the caller, not the server's.
                previous.fail(ChannelError.inappropriateOperationForState)
            }
            pending = exchange.response
            context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(exchange.body))), promise: nil)
            context.write(wrapOutboundOut(.end(nil)), promise: promise)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                body = nil
            case .body(var chunk):
                if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
            case .end:
                guard let h = head, let promise = pending else { return }
                pending = nil
                head = nil
                let answer = Response(
                    status: Int(h.status.code),
                    inferenceHeaderLength: h.headers.first(name: "Inference-Header-Content-Length").flatMap { Int($0) },
                    body: body ?? context.channel.allocator.buffer(capacity: 0), keepAlive: h.isKeepAlive)
                body = nil
                promise.succeed(answer)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            fail(ChannelError.eof)
            context.fireChannelInactive()
        }

        func handlerRemoved(context: ChannelHandlerContext) { fail(ChannelError.ioOnClosedChannel) }

        private func fail(_ error: Error) {
            pending?.fail(error)
            pending = nil
        }
    }
}
