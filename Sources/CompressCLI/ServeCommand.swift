import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import ServingAsync
import ServingCore
import ServingGRPC
import ServingMetrics
import ServingQueue
import ServingREST

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve models over KServe v2 / Open Inference Protocol REST and gRPC, with dynamic batching and metrics.",
        discussion: """
            Give a model repository (REPO/<model>/config.yaml, with a version folder or a `model:` path) or model paths \
            (each served under its base name with the options below). Ports as Triton's: HTTP 8000, gRPC 8001 \
            (inference.GRPCInferenceService), Prometheus metrics on 8002/metrics. SIGTERM or SIGINT stops accepting, answers \
            queued and in-flight requests (REST and gRPC) within --grace-period, and exits 0.
            """)

    @Argument(help: "A model repository folder, or one or more models (artifact, run folder, Hugging Face folder, .keras/.h5).")
    var models: [String]
    @Option(name: .long, help: "HTTP port (0: any free port, printed when listening).")
    var httpPort = 8000
    @Option(name: .long, help: "gRPC port (0: any free port, printed when listening).")
    var grpcPort = 8001
    @Option(name: .long, help: "Prometheus metrics port, GET /metrics (0: any free port, printed when listening).")
    var metricsPort = 8002
    @Flag(name: .long, inversion: .prefixedNo, help: "Serve gRPC.")
    var grpc = true
    @Flag(name: .long, inversion: .prefixedNo, help: "Serve metrics.")
    var metrics = true
    @Flag(name: .long, help: "Log one structured line per request (REST and gRPC) on stderr.")
    var accessLog = false
    @Option(name: .long, help: "Address to bind (default loopback only).")
    var host = "127.0.0.1"
    @Option(name: .long, help: "Quick start: max_batch_size of each model.")
    var maxBatchSize = 32
    @Option(name: .long, help: "Quick start: max_queue_delay_microseconds of each model's batcher.")
    var maxQueueDelayUs = 0
    @Option(name: .long, help: "Quick start: instances (executors) per model.")
    var instances = 1
    @Option(name: .long, help: "Seconds to finish queued and in-flight requests after SIGTERM/SIGINT.")
    var gracePeriod = 30
    @Option(name: .long, help: "Largest request body in bytes (413 beyond it).")
    var maxBodyBytes = 64 << 20
    @Option(
        name: .long,
        help: "A file holding a bearer token: every REST route but /v2/health/* and every gRPC call but ServerLive/Ready then need 'Authorization: Bearer <token>'.")
    var authTokenFile: String?
    @Option(name: .long, help: "Milliseconds a request may take end to end before it is answered 503 (0: no limit).")
    var requestTimeoutMs = 0
    @Option(name: .long, help: "Quick start: a text encoder's inputs: text (BYTES), tokens (INT64 input_ids + attention_mask, for perf_analyzer) or both.")
    var textInputs = "both"
    @Option(
        name: .long,
        help: "A model whose warm batch-1 pass is shorter than this many microseconds computes a request inline, on the thread that decoded it, when its queue is empty and an instance idle (saves two thread hand-offs at low load; 0: never).")
    var inlineBelowUs = 250
    @Option(
        name: .long,
        help: "gRPC flush coalescing: answers wait up to this many microseconds to be written together (fewer syscalls under heavy load; 0: each at once).")
    var grpcFlushDelayUs = 0
    @Flag(
        name: .customLong("async"),
        help: "Also accept async inference (POST v2/models/{m}/infer-async, GET v2/jobs/{id}; gRPC compress.v1.AsyncInferenceService) through --queue.")
    var asyncMode = false
    @OptionGroup var queueOptions: QueueOptions
    @Option(name: .long, help: "With --async: in-process consumers of the queue (0: only accept; `compress worker` runs the jobs).")
    var asyncConsumers = 1
    @Option(name: .long, help: "With --async: jobs waiting or in flight beyond which infer-async answers 429 (0: no limit).")
    var maxQueuedJobs = 100_000
    @Option(name: .long, help: "With --async: jobs each in-process consumer keeps in flight.")
    var prefetch = 64
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if models.isEmpty { throw ValidationError("give a model repository or at least one model") }
        for (flag, port) in [("--http-port", httpPort), ("--grpc-port", grpcPort), ("--metrics-port", metricsPort)]
        where !(0...65535).contains(port) {
            throw ValidationError("\(flag) must be within 0...65535")
        }
        if ModelConfig.TextInputs(rawValue: textInputs) == nil { throw ValidationError("--text-inputs must be text, tokens or both") }
        if maxBatchSize < 1 || instances < 1 || maxQueueDelayUs < 0 || gracePeriod < 0 || maxBodyBytes < 1 || requestTimeoutMs < 0
            || inlineBelowUs < 0 || grpcFlushDelayUs < 0
        {
            throw ValidationError("--max-batch-size, --instances and --max-body-bytes must be positive; delays and periods >= 0")
        }
        if asyncConsumers < 0 || maxQueuedJobs < 0 || prefetch < 1 {
            throw ValidationError("--async-consumers and --max-queued-jobs must be >= 0, --prefetch positive")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let quiet = common.quiet
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = quiet ? .warning : .info
                return h
            }
            let logger = Logger(label: "compress.serve")
            let host = self.host
            var authToken: String? = nil
            if let path = authTokenFile {
                let text: String
                do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                    throw RepositoryError(file: path, message: "cannot read the auth token file: \(error.localizedDescription)")
                }
                let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !token.isEmpty, !token.contains(where: \.isWhitespace) else {
                    throw RepositoryError(file: path, message: "the auth token file must hold one token (no spaces)")
                }
                authToken = token
            }
            let repository: ModelRepository
            if models.count == 1, ModelRepository.isRepository(models[0]) {
                repository = try ModelRepository.open(models[0])
            } else {
                var config = ModelConfig(maxBatchSize: maxBatchSize, instanceGroup: [.init(count: instances)])
                config.dynamicBatching?.maxQueueDelayMicroseconds = maxQueueDelayUs
                config.textInputs = ModelConfig.TextInputs(rawValue: textInputs) ?? .both
                repository = try ModelRepository.quickStart(models, config: config)
            }
            let prometheus = PrometheusMetrics()
            var options = InferenceServer.Options(threadsPerInstance: common.threads)
            options.logger = logger
            options.metrics = prometheus.factory
            options.inlineComputeBelowNanoseconds = UInt64(inlineBelowUs) * 1000
            if requestTimeoutMs > 0 { options.requestTimeoutNanoseconds = UInt64(requestTimeoutMs) * 1_000_000 }
            let server = InferenceServer(repository: repository, options: options)
            var asyncInference: AsyncInference? = nil
            var workers: [any Service] = []
            var asyncService: AsyncInferenceService? = nil
            var queueMetricsText: (@Sendable () -> String)? = nil
            if asyncMode {
                let queue = try queueOptions.open()
                let front = AsyncInference(server: server, queue: queue, maxQueuedJobs: maxQueuedJobs)
                asyncInference = front
                // The queue's payload format: REST bodies as received; gRPC submits are stored in the same form.
                let codec = RESTJobCodec()
                let statistics = WorkerStatistics()
                for i in 0..<asyncConsumers {
                    var w = QueueWorker.Options()
                    w.prefetch = prefetch
                    w.maxPayloadBytes = maxBodyBytes
                    w.logger = logger
                    w.consumer += "-\(i)"
                    workers.append(QueueWorker(server: server, queue: queue, codec: codec, options: w, statistics: statistics))
                }
                asyncService = AsyncInferenceService(front: front, codec: codec)
                // The autoscaling signals (depth, lag, pending, enqueued total) on this server's own metrics port too,
                // so a deployment without separate workers is scaled on them as well.
                var sources: [any PrometheusTextSource] = [QueueMetrics(queue: queue, stream: queueOptions.streamLabel, group: queueOptions.group)]
                if asyncConsumers > 0 { sources.append(statistics) }
                let metricSources = sources
                queueMetricsText = { PrometheusTextServer.text(of: metricSources) }
                logger.info("async inference on \(queueOptions.queue) with \(asyncConsumers) in-process consumer(s)")
            }
            let app = RESTServer.application(
                server: server, host: host, port: httpPort, maxBodyBytes: maxBodyBytes, authToken: authToken, accessLog: accessLog,
                asyncInference: asyncInference, logger: logger,
                onRunning: { port in
                    logger.info("listening on http://\(host):\(port) (models load in the background; see /v2/health/ready)")
                })
            // Services shut down in reverse order: HTTP and gRPC stop accepting and finish their requests first, then
            // metrics stop, then the core drains whatever is still queued.
            var services: [any Service] = [server] + workers
            if metrics {
                services.append(
                    MetricsServer.application(
                        server: server, metrics: prometheus, host: host, port: metricsPort, additionalText: queueMetricsText, logger: logger,
                        onRunning: { port in logger.info("metrics on http://\(host):\(port)/metrics") }))
            }
            if grpc {
                services.append(
                    GRPCInferenceServer(
                        server: server, host: host, port: grpcPort, maxMessageBytes: maxBodyBytes, authToken: authToken, accessLog: accessLog,
                        flushDelayMicroseconds: grpcFlushDelayUs, asyncService: asyncService, logger: logger,
                        onRunning: { port in logger.info("listening on grpc://\(host):\(port)") }))
            }
            services.append(app)
            var group = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            group.maximumGracefulShutdownDuration = .seconds(gracePeriod)
            try await ServiceGroup(configuration: group).run()
        }
    }
}
