import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import ServingCore
import ServingQueue

/// Consumes a ``JobQueue`` and runs the jobs through an ``InferenceServer``, so each model's dynamic batcher turns
/// many queued jobs into few forward passes: the worker keeps up to ``Options/prefetch`` jobs in flight at once.
///
/// Delivery is at least once (a worker killed mid-batch leaves its jobs pending; another reclaims them after the
/// visibility timeout), results exactly once: the queue keeps the first completion and reports the rest as
/// duplicates, which are dropped (and counted). A malformed or oversized payload, or a request the model rejects
/// (400/404), is dead-lettered at once with the reason; engine failures are retried, then dead-lettered. Queue
/// errors (a Redis restart) are retried with exponential backoff; the time to recover is recorded.
///
/// A `Service`: graceful shutdown stops claiming, finishes the jobs in hand and acknowledges them.
public final class QueueWorker: Service, Sendable {
    public struct Options: Sendable {
        /// Consumer name (unique per worker process; the queue tracks deliveries by it).
        public var consumer = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        /// Jobs in flight at once: at least a model's max_batch_size × instances, so full batches form.
        public var prefetch = 64
        /// Payloads larger than this are dead-lettered unread.
        public var maxPayloadBytes = 64 << 20
        /// Sleep when the queue is empty (the next poll).
        public var idlePoll: Duration = .milliseconds(5)
        /// Callback POST attempts (100 ms, 400 ms, 1.6 s apart).
        public var callbackAttempts = 3
        public var backoff = Backoff()
        public var logger = Logger(label: "compress.worker")
        public init() {}
    }

    public let server: InferenceServer
    public let queue: any JobQueue
    public let codec: any JobCodec
    public let options: Options
    /// This worker's counters (shared with the other consumers of the same process when given at init).
    public let statistics: WorkerStatistics

    public init(
        server: InferenceServer, queue: any JobQueue, codec: any JobCodec, options: Options = Options(),
        statistics: WorkerStatistics = WorkerStatistics()
    ) {
        self.server = server
        self.queue = queue
        self.codec = codec
        self.options = options
        self.statistics = statistics
    }

    public func run() async throws {
        let stopping = Locked(false)
        try await withGracefulShutdownHandler {
            // Jobs claimed before the models are ready would wait in the batcher while their visibility runs out.
            while !server.isReady, !stopping.withLock({ $0 }), !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
            try await consume(until: { stopping.withLock { $0 } || Task.isCancelled })
        } onGracefulShutdown: {
            stopping.withLock { $0 = true }
        }
    }

    /// The claim loop: claims while fewer than `prefetch` jobs are in flight, runs each in its own task, until
    /// `stop` says so; then finishes the jobs in hand. (``run()`` calls it with the graceful-shutdown signal.)
    public func consume(until stop: @escaping @Sendable () -> Bool) async throws {
        let queue = self.queue
        let consumer = options.consumer
        let inFlight = Locked(0)
        await withDiscardingTaskGroup { group in
            var backoff = options.backoff
            var failingSince: ContinuousClock.Instant?
            while !stop() {
                let room = options.prefetch - inFlight.withLock { $0 }
                if room <= 0 {
                    // Full: a batch finishing frees many slots at once, so a short poll loses little.
                    try? await Task.sleep(for: .milliseconds(2))
                    continue
                }
                let jobs: [ClaimedJob]
                do {
                    jobs = try await blocking { try queue.claim(consumer: consumer, max: room) }
                    if let since = failingSince {
                        let outage = ContinuousClock.now - since
                        statistics.recordReconnect(after: outage)
                        options.logger.info("queue reachable again after \(outage)")
                        failingSince = nil
                    }
                    backoff.reset()
                } catch {
                    if failingSince == nil {
                        failingSince = .now
                        options.logger.warning("queue unavailable, retrying with backoff: \(error)")
                    }
                    try? await Task.sleep(for: backoff.next())
                    continue
                }
                if jobs.isEmpty {
                    try? await Task.sleep(for: options.idlePoll)
                    continue
                }
                inFlight.withLock { $0 += jobs.count }
                // Decode the whole claim first, then start every job: their requests reach the batcher together and
                // form full batches, rather than trickling in one decode at a time behind a fast forward pass.
                let prepared = jobs.map { ($0, prepare($0)) }
                for (job, p) in prepared {
                    group.addTask {
                        await self.process(job, p)
                        inFlight.withLock { $0 -= 1 }
                    }
                }
            }
        }
    }

    /// A claimed job's payload, decoded, or why it cannot run.
    enum Prepared: Sendable {
        case ready(JobEnvelope, InferRequest)
        case bad(String)
    }

    func prepare(_ job: ClaimedJob) -> Prepared {
        guard job.payload.count <= options.maxPayloadBytes else {
            return .bad("payload of \(job.payload.count) bytes exceeds the worker's limit of \(options.maxPayloadBytes)")
        }
        do {
            let envelope = try JobEnvelope(decoding: job.payload)
            return .ready(envelope, try codec.decode(envelope.body, headerLength: envelope.meta.headerLength))
        } catch {
            return .bad("invalid_argument: \(error.message)")
        }
    }

    /// Runs one job and records its outcome; never throws (every failure ends in the queue or the log).
    func process(_ job: ClaimedJob, _ prepared: Prepared) async {
        statistics.claimed()
        if job.attempt > 1 { statistics.redelivered() }
        let envelope: JobEnvelope
        let request: InferRequest
        switch prepared {
        case let .bad(reason):
            await settle(job, .reject(reason))
            return
        case let .ready(e, r):
            (envelope, request) = (e, r)
        }
        let response: InferResponse
        do {
            response = try await server.infer(model: job.model, version: envelope.meta.version, request: request)
        } catch {
            switch error {
            case .invalidArgument, .notFound: await settle(job, .reject("\(error.grpcCode.lowercased()): \(error.message)"))
            default: await settle(job, .retry("\(error.grpcCode.lowercased()): \(error.message)"))
            }
            return
        }
        let encoded: Data
        do {
            encoded = try codec.encode(response, request: request)
        } catch {
            await settle(job, .reject("the response could not be encoded: \(error)"))
            return
        }
        let stored = JobView.storedResult(
            submittedAt: envelope.meta.submittedAt, completedAt: Date().timeIntervalSince1970, response: encoded)
        guard let first = await settle(job, .complete(stored)) else { return }
        if first, let callback = envelope.meta.callback {
            await postCallback(callback, body: JobView.json(id: job.id, status: .done(stored)))
        }
    }

    enum Outcome: Sendable {
        case complete(Data)
        case retry(String)
        case reject(String)
    }

    /// Records the outcome, retrying through queue outages (with backoff) until the visibility timeout would hand
    /// the job to someone else anyway. Returns whether a completion was the first (nil when it could not be
    /// recorded).
    @discardableResult
    private func settle(_ job: ClaimedJob, _ outcome: Outcome) async -> Bool? {
        let queue = self.queue
        var backoff = options.backoff
        let started = ContinuousClock.now
        while true {
            do {
                switch outcome {
                case let .complete(result):
                    let first = try await blocking { try queue.complete(job, result: result) }
                    if first { statistics.completed() } else { statistics.duplicate() }
                    return first
                case let .retry(reason):
                    try await blocking { try queue.fail(job, reason: reason) }
                    statistics.failed()
                    options.logger.warning("job \(job.id) attempt \(job.attempt) failed: \(reason)")
                    return nil
                case let .reject(reason):
                    try await blocking { try queue.reject(job, reason: reason) }
                    statistics.rejected()
                    options.logger.warning("job \(job.id) dead-lettered: \(reason)")
                    return nil
                }
            } catch {
                if ContinuousClock.now - started > .seconds(300) {
                    options.logger.error("job \(job.id): could not record its outcome: \(error); it will be redelivered")
                    return nil
                }
                try? await Task.sleep(for: backoff.next())
            }
        }
    }

    /// POSTs the job view to `url`, a few attempts; a callback that keeps failing is logged (the result stays
    /// readable with GET v2/jobs/{id} for the TTL).
    private func postCallback(_ url: String, body: Data) async {
        var wait: Duration = .milliseconds(100)
        for attempt in 1...max(1, options.callbackAttempts) {
            do {
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                _ = try await response.body.collect(upTo: 1 << 20)
                if (200..<300).contains(response.status.code) {
                    statistics.callbackDelivered()
                    return
                }
                options.logger.warning("callback \(url) attempt \(attempt): HTTP \(response.status.code)")
            } catch {
                options.logger.warning("callback \(url) attempt \(attempt): \(error)")
            }
            if attempt < options.callbackAttempts {
                try? await Task.sleep(for: wait)
                wait *= 4
            }
        }
        statistics.callbackFailed()
    }
}
