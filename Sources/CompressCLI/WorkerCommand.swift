import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import ServingAsync
import ServingCore
import ServingMetrics
import ServingQueue
import ServingREST

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run async inference jobs from a queue through the dynamic batcher (compress serve --async accepts them).",
        discussion: """
            Claims up to --prefetch jobs at a time so each model's batcher forms full batches, completes them (the first \
            result of a job wins; a redelivered job's second result is dropped), reclaims jobs of dead workers after the \
            visibility timeout, dead-letters bad payloads at once and failing jobs after --max-attempts, and reconnects \
            to Redis with exponential backoff. Queue and worker metrics (Prometheus text) are on --metrics-port/metrics. \
            SIGTERM stops claiming, finishes the jobs in hand and exits 0.
            """)

    @Argument(help: "A model repository folder, or one or more models (artifact, run folder, Hugging Face folder, .keras/.h5).")
    var models: [String]
    @OptionGroup var queueOptions: QueueOptions
    @Option(name: .long, help: "Jobs in flight at once (at least max_batch_size × instances, so full batches form).")
    var prefetch = 64
    @Option(name: .long, help: "Payloads larger than this many bytes are dead-lettered unread.")
    var maxPayloadBytes = 64 << 20
    @Option(name: .long, help: "Port of GET /metrics (queue depth, lag, totals; worker counters); -1: none.")
    var metricsPort = 8002
    @Option(name: .long, help: "Address the metrics port binds.")
    var host = "127.0.0.1"
    @Option(name: .long, help: "Consumer name (default host-pid; must be unique per worker).")
    var consumer: String?
    @Option(name: .long, help: "Quick start: max_batch_size of each model.")
    var maxBatchSize = 32
    @Option(name: .long, help: "Quick start: max_queue_delay_microseconds of each model's batcher.")
    var maxQueueDelayUs = 0
    @Option(name: .long, help: "Quick start: instances (executors) per model.")
    var instances = 1
    @Option(name: .long, help: "Quick start: a text encoder's inputs: text, tokens or both.")
    var textInputs = "both"
    @Option(name: .long, help: "Seconds to finish the jobs in hand after SIGTERM/SIGINT.")
    var gracePeriod = 30
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if models.isEmpty { throw ValidationError("give a model repository or at least one model") }
        if prefetch < 1 || maxPayloadBytes < 1 || maxBatchSize < 1 || instances < 1 || maxQueueDelayUs < 0 || gracePeriod < 0 {
            throw ValidationError("--prefetch, --max-payload-bytes, --max-batch-size and --instances must be positive; delays >= 0")
        }
        if !(-1...65535).contains(metricsPort) { throw ValidationError("--metrics-port must be within -1...65535") }
        if ModelConfig.TextInputs(rawValue: textInputs) == nil { throw ValidationError("--text-inputs must be text, tokens or both") }
    }

    func run() async throws {
        try await reportingErrors {
            bootstrapLogging(quiet: common.quiet)
            let logger = Logger(label: "compress.worker")
            let repository = try openRepository(
                models, maxBatchSize: maxBatchSize, maxQueueDelayUs: maxQueueDelayUs, instances: instances, textInputs: textInputs)
            // The worker's models export Triton's nv_inference_* (batch sizes, queue and compute times) beside the queue's
            // signals, as `compress serve` does: a backlog is explained by the worker's own batches.
            let prometheus = PrometheusMetrics()
            var serverOptions = InferenceServer.Options(threadsPerInstance: common.threads)
            serverOptions.logger = logger
            serverOptions.metrics = prometheus.factory
            let server = InferenceServer(repository: repository, options: serverOptions)
            let queue = try queueOptions.open()
            var options = QueueWorker.Options()
            options.prefetch = prefetch
            options.maxPayloadBytes = maxPayloadBytes
            options.logger = logger
            if let consumer { options.consumer = consumer }
            let worker = QueueWorker(server: server, queue: queue, codec: RESTJobCodec(), options: options)
            var services: [any Service] = [server, worker]
            if metricsPort >= 0 {
                let host = self.host
                let sources: [any PrometheusTextSource] = [
                    QueueMetrics(queue: queue, stream: queueOptions.streamLabel, group: queueOptions.group), worker.statistics,
                ]
                services.append(
                    MetricsServer.application(
                        server: server, metrics: prometheus, host: host, port: metricsPort,
                        additionalText: { PrometheusTextServer.text(of: sources) }, logger: logger,
                        onRunning: { port in logger.info("metrics on http://\(host):\(port)/metrics") }))
            }
            logger.info("worker \(options.consumer) consuming \(queueOptions.queue)")
            // Reverse order on shutdown: metrics stop, the worker finishes its jobs, then the server drains.
            var group = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            group.maximumGracefulShutdownDuration = .seconds(gracePeriod)
            try await ServiceGroup(configuration: group).run()
        }
    }
}

/// Log lines on stderr, info level (warnings only with --quiet).
func bootstrapLogging(quiet: Bool) {
    LoggingSystem.bootstrap { label in
        var h = StreamLogHandler.standardError(label: label)
        h.logLevel = quiet ? .warning : .info
        return h
    }
}

/// A repository folder, or quick-start models with the given batching options.
func openRepository(_ models: [String], maxBatchSize: Int, maxQueueDelayUs: Int, instances: Int, textInputs: String) throws -> ModelRepository {
    if models.count == 1, ModelRepository.isRepository(models[0]) { return try ModelRepository.open(models[0]) }
    var config = ModelConfig(maxBatchSize: maxBatchSize, instanceGroup: [.init(count: instances)])
    config.dynamicBatching?.maxQueueDelayMicroseconds = maxQueueDelayUs
    config.textInputs = ModelConfig.TextInputs(rawValue: textInputs) ?? .both
    return try ModelRepository.quickStart(models, config: config)
}
