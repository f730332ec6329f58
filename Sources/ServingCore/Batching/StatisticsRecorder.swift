import CoreMetrics
import Foundation

/// One model version's statistics, updated by its batcher (queue, compute, executions) and by the server
/// (success and failure of whole requests).
///
/// The single place every figure is recorded: each call updates both the snapshot the statistics extension returns
/// (`GET v2/models/m/stats`, gRPC ModelStatistics) and the swift-metrics handles named in ``ServingMetricNames``
/// (Prometheus on port 8002), so the two never disagree.
public final class StatisticsRecorder: Sendable {
    private let state: Locked<ModelStatistics>
    private let metrics: RecorderMetrics

    /// `metrics`: where the counters and histograms go (the no-op factory keeps only the snapshot).
    public init(name: String, version: String, metrics: any MetricsFactory = NOOPMetricsHandler.instance) {
        state = Locked(ModelStatistics(name: name, version: version))
        self.metrics = RecorderMetrics(model: name, version: version, factory: metrics)
    }

    /// A copy of the current figures.
    public func snapshot() -> ModelStatistics { state.withLock { $0 } }

    func recordSuccess(nanoseconds: UInt64) {
        let nowMs = UInt64(Date().timeIntervalSince1970 * 1000)
        state.withLock {
            $0.inferenceStats.success.add(nanoseconds)
            $0.lastInference = nowMs
        }
        metrics.success.increment()
        metrics.requestDuration.increment(by: nanoseconds / 1000)
        metrics.latency.recordNanoseconds(nanoseconds)
    }

    /// A request that failed with `error`: counted in the statistics' `fail` and in
    /// `nv_inference_request_failure{reason=...}`. As in Triton, `nv_inference_request_duration_us` and the latency
    /// histogram count successes only.
    func recordFailure(nanoseconds: UInt64, error: InferenceError) {
        state.withLock { $0.inferenceStats.fail.add(nanoseconds) }
        metrics.failures[FailureReason(error).rawValue].increment()
    }

    /// One execution of `items` items for requests that waited `queueNanoseconds` each.
    func recordExecution(items: Int, queueNanoseconds: [UInt64], input: UInt64, infer: UInt64, output: UInt64) {
        let n = UInt64(queueNanoseconds.count)
        state.withLock { s in
            s.executionCount += 1
            s.inferenceCount += UInt64(items)
            for q in queueNanoseconds { s.inferenceStats.queue.add(q) }
            // Every request of the batch is charged the batch's compute time, as Triton does.
            s.inferenceStats.computeInput.add(input * n, count: n)
            s.inferenceStats.computeInfer.add(infer * n, count: n)
            s.inferenceStats.computeOutput.add(output * n, count: n)
            let i: Int
            if let found = s.batchStats.firstIndex(where: { $0.batchSize == items }) {
                i = found
            } else {
                s.batchStats.append(BatchStatistics(batchSize: items))
                s.batchStats.sort { $0.batchSize < $1.batchSize }
                i = s.batchStats.firstIndex(where: { $0.batchSize == items })!
            }
            s.batchStats[i].computeInput.add(input)
            s.batchStats[i].computeInfer.add(infer)
            s.batchStats[i].computeOutput.add(output)
        }
        metrics.executions.increment()
        metrics.inferences.increment(by: items)
        metrics.queueDuration.increment(by: queueNanoseconds.reduce(0, +) / 1000)
        metrics.computeInput.increment(by: input * n / 1000)
        metrics.computeInfer.increment(by: infer * n / 1000)
        metrics.computeOutput.increment(by: output * n / 1000)
        metrics.batchSize.record(items)
    }
}

/// The swift-metrics handles of one model version, made once (a handle costs a factory lookup).
private struct RecorderMetrics: Sendable {
    let success, inferences, executions: Counter
    /// One `nv_inference_request_failure` series per ``FailureReason`` (by raw value), all made at load as Triton
    /// does, so a dashboard sees zeros rather than missing series.
    let failures: [Counter]
    let requestDuration, queueDuration, computeInput, computeInfer, computeOutput: Counter
    let latency: CoreMetrics.Timer
    let batchSize: Recorder

    init(model: String, version: String, factory: any MetricsFactory) {
        let labels = [("model", model), ("version", version)]
        func counter(_ name: String) -> Counter { Counter(label: name, dimensions: labels, factory: factory) }
        success = counter(ServingMetricNames.requestSuccess)
        // Labels in Triton's (alphabetical) order.
        failures = FailureReason.allCases.map { reason in
            Counter(label: ServingMetricNames.requestFailure, dimensions: [("model", model), ("reason", reason.label), ("version", version)], factory: factory)
        }
        inferences = counter(ServingMetricNames.inferenceCount)
        executions = counter(ServingMetricNames.executionCount)
        requestDuration = counter(ServingMetricNames.requestDuration)
        queueDuration = counter(ServingMetricNames.queueDuration)
        computeInput = counter(ServingMetricNames.computeInputDuration)
        computeInfer = counter(ServingMetricNames.computeInferDuration)
        computeOutput = counter(ServingMetricNames.computeOutputDuration)
        latency = CoreMetrics.Timer(label: ServingMetricNames.requestLatency, dimensions: labels, factory: factory)
        batchSize = Recorder(label: ServingMetricNames.batchSize, dimensions: labels, aggregate: true, factory: factory)
    }
}

/// Triton's `reason` label of `nv_inference_request_failure`: the scheduler refused the request (queue full, queue
/// timeout), the backend failed, or anything else (bad input, unknown version, shutting down). CANCELED (a client
/// that went away) is made for completeness; compress does not tell cancellations apart yet.
enum FailureReason: Int, CaseIterable, Sendable {
    case rejected, canceled, backend, other

    init(_ error: InferenceError) {
        switch error {
        case .queueFull, .timedOut: self = .rejected
        case .internal: self = .backend
        case .invalidArgument, .notFound, .unavailable: self = .other
        }
    }

    var label: String {
        switch self {
        case .rejected: return "REJECTED"
        case .canceled: return "CANCELED"
        case .backend: return "BACKEND"
        case .other: return "OTHER"
        }
    }
}
