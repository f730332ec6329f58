import ServingCore

/// Where the average request's time went, in microseconds: the client's own parts beside the server's, from the
/// statistics extension's deltas over the same windows.
public struct ComponentBreakdown: Sendable, Codable, Equatable {
    /// Encoding the request (client).
    public var clientSerializeUs: Double
    /// Parsing the response (client).
    public var clientDeserializeUs: Double
    /// The client's send + wait minus the server's request time: network, HTTP framing, the server's HTTP layer
    /// and body decoding before the core sees the request (perf_analyzer's "Network+Server Send/Recv").
    public var networkUs: Double
    /// Server: waiting in the batcher's queue.
    public var serverQueueUs: Double
    /// Server: gathering a batch's inputs (tokenization of text happens here or in `serverOtherUs`).
    public var serverComputeInputUs: Double
    /// Server: the forward pass.
    public var serverComputeInferUs: Double
    /// Server: splitting outputs.
    public var serverComputeOutputUs: Double
    /// Server: request time not in queue or compute (validation, conversion, response assembly).
    public var serverOtherUs: Double
    /// Whether the server-side numbers are present (a server without the statistics extension leaves them 0).
    public var hasServerStatistics: Bool

    enum CodingKeys: String, CodingKey {
        case clientSerializeUs = "client_serialize_us", clientDeserializeUs = "client_deserialize_us", networkUs = "network_us"
        case serverQueueUs = "server_queue_us", serverComputeInputUs = "server_compute_input_us"
        case serverComputeInferUs = "server_compute_infer_us", serverComputeOutputUs = "server_compute_output_us"
        case serverOtherUs = "server_other_us", hasServerStatistics = "has_server_statistics"
    }

    /// Averages from the client's sums over `requests` successful requests and the server's statistics delta.
    public init(requests: UInt64, serializeNs: UInt64, sendWaitNs: UInt64, deserializeNs: UInt64, server: InferenceStatistics?) {
        let n = Double(max(requests, 1))
        clientSerializeUs = Double(serializeNs) / n / 1000
        clientDeserializeUs = Double(deserializeNs) / n / 1000
        let sendWait = Double(sendWaitNs) / n / 1000
        func avg(_ d: StatDuration) -> Double { d.count == 0 ? 0 : Double(d.ns) / Double(d.count) / 1000 }
        if let s = server, s.success.count > 0 {
            hasServerStatistics = true
            serverQueueUs = avg(s.queue)
            serverComputeInputUs = avg(s.computeInput)
            serverComputeInferUs = avg(s.computeInfer)
            serverComputeOutputUs = avg(s.computeOutput)
            let request = avg(s.success)
            serverOtherUs = max(0, request - serverQueueUs - serverComputeInputUs - serverComputeInferUs - serverComputeOutputUs)
            networkUs = max(0, sendWait - request)
        } else {
            hasServerStatistics = false
            serverQueueUs = 0; serverComputeInputUs = 0; serverComputeInferUs = 0; serverComputeOutputUs = 0; serverOtherUs = 0
            networkUs = sendWait
        }
    }

    /// The parts in display order, with labels.
    public var rows: [(String, Double)] {
        [
            ("client serialize", clientSerializeUs), ("network + HTTP (both sides)", networkUs), ("server queue", serverQueueUs),
            ("server compute input", serverComputeInputUs), ("server compute infer (forward)", serverComputeInferUs),
            ("server compute output", serverComputeOutputUs), ("server other (decode, checks)", serverOtherUs),
            ("client deserialize", clientDeserializeUs),
        ]
    }

    public var totalUs: Double { rows.reduce(0) { $0 + $1.1 } }
}

extension InferenceStatistics {
    /// `self − earlier`, field by field (the statistics extension's counters only grow; a restarted server's
    /// smaller counters give zeros, not wrap-around).
    public func delta(since earlier: InferenceStatistics) -> InferenceStatistics {
        func d(_ a: StatDuration, _ b: StatDuration) -> StatDuration {
            StatDuration(count: a.count >= b.count ? a.count - b.count : 0, ns: a.ns >= b.ns ? a.ns - b.ns : 0)
        }
        var r = InferenceStatistics()
        r.success = d(success, earlier.success)
        r.fail = d(fail, earlier.fail)
        r.queue = d(queue, earlier.queue)
        r.computeInput = d(computeInput, earlier.computeInput)
        r.computeInfer = d(computeInfer, earlier.computeInfer)
        r.computeOutput = d(computeOutput, earlier.computeOutput)
        return r
    }
}
