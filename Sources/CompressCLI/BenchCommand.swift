import ArgumentParser
import Bench
import Foundation
import Formats

#if canImport(Glibc)
import Glibc
#endif

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test a KServe v2 server (compress serve, Triton): latency percentiles, throughput, where the time goes.",
        discussion: """
            Closed loop (--concurrency 1:64:x2) or open loop (--rate R, --poisson; latency from the intended send time, so \
            coordinated omission is corrected). Each level warms up, then measures windows until 3 agree within 10 % \
            (perf_analyzer's rule) or --max-duration passes. --latency-bound-ms N finds the highest Poisson rate whose p99 \
            stays under N ms. Server-side times come from the statistics extension (GET v2/models/NAME/stats).
            """)

    @Argument(help: "Server URL, e.g. http://127.0.0.1:8000 (REST) or 127.0.0.1:8001 (gRPC).")
    var url: String
    @Option(name: .long, help: "Model name on the server.")
    var model: String
    @Option(name: .long, help: "Transport: rest-binary (binary tensor data, as perf_analyzer sends), rest-json, or grpc (raw tensor contents).")
    var `protocol` = "rest-binary"
    @Option(name: .long, help: "Real inputs, cycled: FILE.txt (one sentence a line, sent as BYTES) or FILE.h5 (e.g. datasets/digits/test.h5).")
    var data: String?
    @Option(name: .long, help: "perf_analyzer-style generated input NAME:D1,D2 (dims without the batch axis; repeatable).")
    var shape: [String] = []
    @Option(name: .long, help: "Generated data: random or zero.")
    var inputData = "random"
    @Option(name: .long, help: "Items per request.")
    var batchSize = 1
    @Option(name: .long, help: "Closed-loop levels START[:END[:STEP]], STEP xK multiplies (default 1).")
    var concurrency: String?
    @Option(name: .long, help: "Open-loop rates START[:END[:STEP]] in requests per second.")
    var rate: String?
    @Flag(name: .long, help: "Open loop with exponential gaps (Poisson arrivals) instead of even spacing.")
    var poisson = false
    @Option(name: .long, help: "Find the highest Poisson rate whose p99 stays under this many milliseconds.")
    var latencyBoundMs: Double?
    @Option(name: .long, help: "Warm-up seconds per level.")
    var warmup: Double = 1
    @Option(name: .long, help: "Measurement window in seconds.")
    var window: Double = 2
    @Option(name: .long, help: "Stability threshold in percent (throughput and mean latency of the last windows).")
    var stabilityPercentage: Double = 10
    @Option(name: .long, help: "Consecutive windows that must agree.")
    var stabilityWindows = 3
    @Option(name: .long, help: "Seconds of measuring per level at most (unstable levels stop here).")
    var maxDuration: Double = 30
    @Option(name: .long, help: "Open loop: requests in flight at most.")
    var maxOutstanding = 1024
    @Option(name: .long, help: "Event-loop threads of the HTTP client (default: share the loops that run the load's tasks, no thread hop per request).")
    var clientThreads: Int?
    @Option(name: .long, help: "REST client for inference requests: nio (raw keep-alive connections, the lean one) or async-http-client (the older client, for A/B runs).")
    var restClient = "nio"
    @Option(name: .long, help: "gRPC connections (default: one per 6 concurrent requests, as perf_analyzer's clients share a channel).")
    var grpcConnections: Int?
    @Flag(name: .long, help: "Print the results as JSON on stdout.")
    var json = false
    @Option(name: .long, help: "Also write perf_analyzer's CSV to this file.")
    var csv: String?
    @Flag(name: .long, help: "No progress on stderr.")
    var quiet = false

    func validate() throws {
        if concurrency != nil && rate != nil { throw ValidationError("give --concurrency or --rate, not both") }
        if rate != nil && latencyBoundMs != nil { throw ValidationError("--latency-bound-ms searches rates itself: drop --rate") }
        if data != nil && !shape.isEmpty { throw ValidationError("give --data or --shape, not both") }
        if batchSize < 1 || stabilityWindows < 1 || maxOutstanding < 1 || (clientThreads ?? 1) < 1 || (grpcConnections ?? 1) < 1 {
            throw ValidationError("--batch-size, --stability-windows, --max-outstanding, --client-threads and --grpc-connections must be at least 1")
        }
        if !(warmup >= 0) || !(window > 0) || !(maxDuration > 0) || !(stabilityPercentage > 0) {
            throw ValidationError("--window, --max-duration and --stability-percentage must be positive, --warmup >= 0")
        }
        if let b = latencyBoundMs, !(b > 0) { throw ValidationError("--latency-bound-ms must be positive") }
        if self.protocol != "grpc",
            RESTTarget.Encoding(rawValue: self.protocol.replacingOccurrences(of: "rest-", with: "")) == nil || !self.protocol.hasPrefix("rest-")
        {
            throw ValidationError("--protocol must be rest-binary, rest-json or grpc")
        }
        if restClient != "nio" && restClient != "async-http-client" { throw ValidationError("--rest-client must be nio or async-http-client") }
        if RequestSource.Fill(rawValue: inputData) == nil { throw ValidationError("--input-data must be random or zero") }
    }

    func run() async throws {
        try await reportingErrors { try await execute() }
    }

    private func makePlan() throws -> BenchPlan {
        var plan = BenchPlan(url: url, model: model)
        plan.encoding = RESTTarget.Encoding(rawValue: self.protocol.replacingOccurrences(of: "rest-", with: "")) ?? .binary
        plan.grpc = self.protocol == "grpc"
        plan.dataSpec = data
        plan.shapes = try shape.map { try RequestSource.ShapeOption(parsing: $0) }
        plan.fill = RequestSource.Fill(rawValue: inputData) ?? .random
        plan.batch = batchSize
        if let rate {
            let rates = try parseRange(rate, what: "--rate")
            plan.modes = rates.map { (r: Double) -> LoadMode in LoadMode.rate(perSecond: r, poisson: poisson) }
        } else {
            let levels = try parseRange(concurrency ?? (latencyBoundMs == nil ? "1" : "16"), what: "--concurrency")
            guard levels.allSatisfy({ $0 == $0.rounded() }) else { throw BenchError("--concurrency levels must be whole numbers") }
            plan.modes = levels.map { (n: Double) -> LoadMode in LoadMode.concurrency(Int(n)) }
        }
        plan.latencyBoundMs = latencyBoundMs
        plan.settings.warmupSeconds = warmup
        plan.settings.windowSeconds = window
        plan.settings.stability = StabilityRule(threshold: stabilityPercentage / 100, windows: stabilityWindows)
        plan.settings.maxDurationSeconds = maxDuration
        plan.settings.maxOutstanding = maxOutstanding
        plan.clientThreads = clientThreads
        plan.grpcConnections = grpcConnections
        plan.rawHTTP = restClient == "nio"
        return plan
    }

    private func execute() async throws {
        let plan = try makePlan()
        // The load's tasks then run on the same event loops as the REST and gRPC clients' connections, so a
        // request's task resumes where its answer was read (perf_analyzer's C++ client has no such hop either).
        if !EventLoopConcurrency.install() {
            FileHandle.standardError.write(Data("compress: warning: tasks stay on Swift's cooperative pool (event-loop executor not installed)\n".utf8))
        }
        let tty = isatty(2) != 0
        var progress: (@Sendable (String) -> Void)? = nil
        if !quiet {
            progress = { (line: String) in
                FileHandle.standardError.write(Data((tty ? "\r\u{1B}[K" + line : line + "\n").utf8))
            }
        }
        let result = try await plan.run(progress: progress)
        if tty && !quiet { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if let csv { try writeAtomically(Data(BenchReport.csv(result).utf8), to: URL(fileURLWithPath: csv)) }
        printOut(json ? try BenchReport.json(result) : BenchReport.text(result))
    }
}
