import Bench
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

/// A request context that knows the client's address, so the server can count the connections it was sent over.
private struct PeerContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// The client ports the server saw, one per inference.
private final class PortLog: Sendable {
    private let ports = Mutex<[Int]>([])
    init() {}
    func add(_ port: Int) { ports.withLock { $0.append(port) } }
    var all: [Int] { ports.withLock { $0 } }
    func clear() { ports.withLock { $0.removeAll() } }
}

/// A KServe v2 server with one model `m` (FP32 [-1,1] in and out) that records the client port of every
/// inference, and answers `Connection: close` when `close` is set.
private func countingServer(ports: PortLog, close: Bool) -> some ApplicationProtocol {
    let router = Router(context: PeerContext.self)
    let metadata = """
        {"name":"m","versions":["1"],"platform":"test","inputs":[{"name":"x","datatype":"FP32","shape":[-1,1]}],\
        "outputs":[{"name":"y","datatype":"FP32","shape":[-1,1]}]}
        """
    let answer = #"{"model_name":"m","outputs":[{"name":"y","datatype":"FP32","shape":[1,1],"data":[0.5]}]}"#
    router.get("/v2/models/m") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: metadata)))
    }
    router.post("/v2/models/m/infer") { request, context in
        _ = try await request.body.collect(upTo: 1 << 20)
        ports.add(context.remoteAddress?.port ?? -1)
        var headers: HTTPFields = [.contentType: "application/json"]
        if close { headers[.connection] = "close" }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer)))
    }
    return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
}

/// A JSON REST target on the test server's model `m` and one generated request for it.
private func jsonTarget(port: Int) async throws -> (RESTTarget, BenchRequest) {
    let target = try RESTTarget(url: "http://127.0.0.1:\(port)", model: "m", encoding: .json, threads: nil)
    let requests = try RequestSource.generated(metadata: try await target.metadata(), shapes: [], fill: .zero)
    return (target, requests[0])
}

/// Runs `body` with a JSON target on a live counting server (`close`: it answers `Connection: close`), then shuts
/// the target down.
private func withJSONTarget(
    close: Bool, _ body: @escaping @Sendable (RESTTarget, BenchRequest, PortLog) async throws -> Void
) async throws {
    let ports = PortLog()
    try await countingServer(ports: ports, close: close).test(.live) { client in
        let (target, request) = try await jsonTarget(port: client.port!)
        try await body(target, request, ports)
        try await target.shutdown()
    }
}

/// Sends `request` `count` times, one after another, and expects every answer to succeed.
private func expectSequentialSuccesses(_ target: RESTTarget, _ request: BenchRequest, count: Int) async {
    for _ in 0..<count {
        let outcome = await target.infer(request)
        #expect(outcome.succeeded, "\(outcome.error ?? "")")
    }
}

/// The load loop's own HTTP/1.1 client (``RESTTarget`` over raw NIO connections): answers arrive whole, keep-alive
/// connections are reused (one per request in flight, as perf_analyzer holds one per concurrent client), a server
/// that closes is reconnected to, and a server that is gone gives a failed outcome, not a hang.
@Suite(.serialized) struct HTTP1ConnectionsTests {
    @Test func reusesOneConnectionPerRequestInFlight() async throws {
        try await withJSONTarget(close: false) { target, request, ports in
            await expectSequentialSuccesses(target, request, count: 20)
            #expect(Set(ports.all).count == 1, "sequential requests share one keep-alive connection")
            ports.clear()
            // 4 requests in flight at a time, 5 rounds: at most 4 connections (a freed one is reused).
            for _ in 0..<5 {
                let ok = await withTaskGroup(of: Bool.self) { group in
                    for _ in 0..<4 { group.addTask { await target.infer(request).succeeded } }
                    return await group.reduce(true) { $0 && $1 }
                }
                #expect(ok)
            }
            #expect(ports.all.count == 20)
            #expect(Set(ports.all).count <= 5, "at most the 4 in flight plus the sequential one")
        }
    }

    @Test func reconnectsWhenTheServerCloses() async throws {
        try await withJSONTarget(close: true) { target, request, ports in
            await expectSequentialSuccesses(target, request, count: 6)
            #expect(Set(ports.all).count == 6, "Connection: close answers are not reused")
        }
    }

    @Test func aServerThatIsGoneFailsTheRequest() async throws {
        let ports = PortLog()
        let (target, request) = try await countingServer(ports: ports, close: false).test(.live) { client in
            let (target, request) = try await jsonTarget(port: client.port!)
            #expect(await target.infer(request).succeeded)
            return (target, request)
        }
        // The server has stopped: its idle connection closed and nothing listens on the port any more.
        let outcome = await target.infer(request)
        #expect(outcome.status == 0)
        #expect(outcome.error != nil)
        try await target.shutdown()
    }
}
