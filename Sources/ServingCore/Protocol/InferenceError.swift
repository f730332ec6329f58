/// Every failure a client can see, by kind; transports map the kind to their status (``httpStatus``, ``grpcCode``).
///
/// Messages name the tensor, model or limit involved, because they are all a client gets.
public enum InferenceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Malformed request: unknown tensor, wrong datatype or shape, bad JSON or binary framing.
    case invalidArgument(String)
    /// Unknown model or version.
    case notFound(String)
    /// The model's queue holds `max_queue_size` requests; retry later.
    case queueFull(String)
    /// The request waited in the queue past its timeout (answered, never dropped).
    case timedOut(String)
    /// The server or model is not ready (loading, unloading, shutting down).
    case unavailable(String)
    /// A bug or an engine failure.
    case `internal`(String)

    public var message: String {
        switch self {
        case let .invalidArgument(m), let .notFound(m), let .queueFull(m), let .timedOut(m), let .unavailable(m), let .internal(m): return m
        }
    }

    public var description: String { message }

    /// HTTP status: 400, 404, 429, 503 (timeouts too, as Triton answers them UNAVAILABLE), 500.
    public var httpStatus: Int {
        switch self {
        case .invalidArgument: return 400
        case .notFound: return 404
        case .queueFull: return 429
        case .timedOut, .unavailable: return 503
        case .internal: return 500
        }
    }

    /// The gRPC status code name the gRPC adapter will use (Triton's mapping, with RESOURCE_EXHAUSTED for a full
    /// queue and DEADLINE_EXCEEDED for a queue timeout).
    public var grpcCode: String {
        switch self {
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .notFound: return "NOT_FOUND"
        case .queueFull: return "RESOURCE_EXHAUSTED"
        case .timedOut: return "DEADLINE_EXCEEDED"
        case .unavailable: return "UNAVAILABLE"
        case .internal: return "INTERNAL"
        }
    }
}
