/// Names of the metrics the core reports through swift-metrics, as Triton spells them (labels `model`, `version`),
/// plus compress's own histograms. Any swift-metrics backend receives them; ServingMetrics exposes them to
/// Prometheus on Triton's port 8002.
public enum ServingMetricNames {
    /// Requests answered with outputs (counter).
    public static let requestSuccess = "nv_inference_request_success"
    /// Requests that failed after reaching the model (counter), with Triton's `reason` label: REJECTED (queue full or
    /// queue timeout), CANCELED, BACKEND (the engine failed) or OTHER (bad input and the rest).
    public static let requestFailure = "nv_inference_request_failure"
    /// Items inferred; a request with a batch of 4 counts 4 (counter).
    public static let inferenceCount = "nv_inference_count"
    /// Forward passes run (counter); below `nv_inference_count` when requests were batched together.
    public static let executionCount = "nv_inference_exec_count"
    /// Cumulative durations of successful requests in µs, arrival to answer (counter; Triton leaves failures out).
    public static let requestDuration = "nv_inference_request_duration_us"
    /// Cumulative time requests waited in the batcher's queue, µs (counter).
    public static let queueDuration = "nv_inference_queue_duration_us"
    /// Cumulative per-request compute durations, µs; each request of a batch is charged the batch's (counters).
    public static let computeInputDuration = "nv_inference_compute_input_duration_us"
    public static let computeInferDuration = "nv_inference_compute_infer_duration_us"
    public static let computeOutputDuration = "nv_inference_compute_output_duration_us"
    /// Requests waiting in the model's queue (gauge, set when scraped).
    public static let pendingRequestCount = "nv_inference_pending_request_count"
    /// Latency of successful requests, arrival to answer (histogram, seconds).
    public static let requestLatency = "compress_inference_request_latency_seconds"
    /// Items per execution (histogram): the batch-size distribution.
    public static let batchSize = "compress_inference_batch_size"
}
