import ServingCore

/// A server the load generator drives: one transport (REST JSON, REST binary, gRPC) speaking the Open Inference
/// Protocol. The runner only calls these four methods, so a gRPC client plugs in as one more conforming type.
///
/// ```swift
/// let target = try RESTTarget(url: "http://127.0.0.1:8000", model: "digits", encoding: .binary)
/// let metadata = try await target.metadata()
/// let outcome = await target.infer(request)
/// ```
public protocol LoadTarget: Sendable {
    /// What the results call this transport: `rest-json`, `rest-binary`, `grpc`.
    var protocolName: String { get }
    /// The model's metadata; throws a one-line error for an unreachable server or an unknown model.
    func metadata() async throws -> ModelMetadata
    /// The model's cumulative statistics (Triton's statistics extension), or nil when the server has none.
    func statistics() async throws -> ModelStatistics?
    /// Sends one request and waits for its answer; never throws: failures are outcomes with a status.
    func infer(_ request: BenchRequest) async -> RequestOutcome
    /// The same from load slot `slot` (a closed-loop worker's index; open loop: the request's index in the cycled
    /// inputs, which spreads sends round-robin): a transport
    /// with several connections pins each slot to one of them, as perf_analyzer pins each of its clients to one
    /// channel. The default ignores the slot.
    func infer(_ request: BenchRequest, slot: Int) async -> RequestOutcome
    /// Closes connections.
    func shutdown() async throws
}

extension LoadTarget {
    public func infer(_ request: BenchRequest, slot: Int) async -> RequestOutcome { await infer(request) }
}

/// One inference request's inputs, ready to encode.
public struct BenchRequest: Sendable {
    public struct Input: Sendable {
        public var name: String
        /// Shape with the batch axis.
        public var shape: [Int]
        public var data: TensorData

        public init(name: String, shape: [Int], data: TensorData) {
            self.name = name
            self.shape = shape
            self.data = data
        }
    }

    public var inputs: [Input]

    public init(inputs: [Input]) { self.inputs = inputs }
}

/// What one request cost the client, and how it ended.
public struct RequestOutcome: Sendable {
    /// HTTP status (gRPC codes are mapped to their HTTP equivalents by the gRPC target); 0 when no answer came
    /// (connection refused, reset, timed out).
    public var status: Int
    /// Encoding the request body.
    public var serializeNs: UInt64
    /// From handing the body to the transport until the whole response body arrived: network, protocol and the
    /// server's own time.
    public var sendWaitNs: UInt64
    /// Parsing the response (and its binary outputs).
    public var deserializeNs: UInt64
    /// A short description of a failure, for the first-error line.
    public var error: String?

    public init(status: Int, serializeNs: UInt64 = 0, sendWaitNs: UInt64 = 0, deserializeNs: UInt64 = 0, error: String? = nil) {
        self.status = status
        self.serializeNs = serializeNs
        self.sendWaitNs = sendWaitNs
        self.deserializeNs = deserializeNs
        self.error = error
    }

    public var succeeded: Bool { status == 200 }
}

/// Errors that stop a benchmark before it starts (bad URL, unreachable server, unknown model, bad options).
public struct BenchError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
