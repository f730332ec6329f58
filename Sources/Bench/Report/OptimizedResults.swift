import Evaluation
import Foundation
import Pipeline

/// The combined figures of `compress report` (`results.json`): per variant, the engine's measurement from its run
/// and the server's from its bench files, nothing recomputed, so the report agrees with `compress eval` and
/// `compress bench` by construction.
public struct OptimizedResults: Codable, Sendable {
    /// One load level of one protocol behind `compress serve`.
    public struct ServerLevel: Codable, Sendable {
        public var protocolName: String
        /// `concurrency N` or `rate R req/s`.
        public var load: String
        /// The concurrency (closed loop) or offered rate (open loop).
        public var level: Double
        public var closedLoop: Bool
        public var throughputPerS: Double
        public var latency: LatencySummary
        public var errors: UInt64
        public var stable: Bool
        public var components: ComponentBreakdown

        enum CodingKeys: String, CodingKey {
            case protocolName = "protocol", load, level, closedLoop = "closed_loop", throughputPerS = "throughput_per_s", latency, errors
            case stable, components
        }
    }

    public struct Variant: Codable, Sendable {
        public var family: String
        public var name: String
        public var run: String
        /// `accuracy` (labelled data) or `cosine to original` (embeddings against the unoptimized model's).
        public var qualityMetric: String?
        public var quality: Double?
        public var qualityData: [String]
        public var parameters: Int
        public var weightsBytes: Int
        public var weightsZstdBytes: Int
        public var bitsPerWeight: Double
        public var threads: Int
        /// Engine, batch 1 (`compress eval`'s timing in the run's last evaluate stage).
        public var engineP50Ms: Double?
        public var engineP99Ms: Double?
        public var engineThroughputB1: Double?
        /// The largest batch the run timed, and its items per second.
        public var engineLargestBatch: Int?
        public var engineThroughputLargest: Double?
        public var server: [ServerLevel]

        enum CodingKeys: String, CodingKey {
            case family, name, run, qualityMetric = "quality_metric", quality, qualityData = "quality_data", parameters
            case weightsBytes = "weights_bytes", weightsZstdBytes = "weights_zstd_bytes", bitsPerWeight = "bits_per_weight", threads
            case engineP50Ms = "engine_p50_ms", engineP99Ms = "engine_p99_ms", engineThroughputB1 = "engine_throughput_b1_per_s"
            case engineLargestBatch = "engine_largest_batch", engineThroughputLargest = "engine_throughput_largest_per_s", server
        }

        /// Protocols measured, in a stable order.
        public var protocols: [String] { Array(Set(server.map(\.protocolName))).sorted() }
    }

    public var title: String
    public var commands: [String]
    public var notes: [String]
    public var variants: [Variant]

    /// Families in first-appearance order.
    public var families: [String] {
        var seen: [String] = []
        for v in variants where !seen.contains(v.family) { seen.append(v.family) }
        return seen
    }

    /// Reads every run and bench file the manifest names; a missing or unreadable one is an error naming it.
    public static func build(_ manifest: OptimizedManifest) throws -> OptimizedResults {
        var variants: [Variant] = []
        for v in manifest.variants {
            guard let m = try Comparison.loadMeasurement(v.run) else {
                throw BenchError("\(v.run): no metrics.json (variant '\(v.name)' of \(v.family) needs a `compress run` directory)")
            }
            let quality: (String, Double)? =
                m.accuracy.map { ("accuracy", $0) } ?? m.fidelity.map { ("cosine to original", $0.cosineMean) }
            let largest = m.throughput.max { $0.batchSize < $1.batchSize }
            var server: [ServerLevel] = []
            for file in v.bench {
                guard let data = FileManager.default.contents(atPath: file) else { throw BenchError("\(file): no such file") }
                let result: BenchResult
                do { result = try JSONDecoder().decode(BenchResult.self, from: data) } catch let e as DecodingError {
                    throw BenchError("\(file): not a `compress bench --json` result (\(describe(e)))")
                }
                for level in result.levels {
                    var closed = false
                    if case .concurrency = level.mode { closed = true }
                    server.append(
                        ServerLevel(
                            protocolName: result.protocolName, load: level.mode.label, level: level.mode.level, closedLoop: closed,
                            throughputPerS: level.summary.throughput, latency: level.summary.latency, errors: level.summary.errors,
                            stable: level.stable, components: level.summary.components))
                }
            }
            variants.append(
                Variant(
                    family: v.family, name: v.name, run: v.run, qualityMetric: quality?.0, quality: quality?.1, qualityData: m.data,
                    parameters: m.parameters, weightsBytes: m.size.weightsBytes, weightsZstdBytes: m.size.weightsZstdBytes,
                    bitsPerWeight: m.bitsPerWeight, threads: m.threads, engineP50Ms: m.latency?.latencyMs.p50,
                    engineP99Ms: m.latency?.latencyMs.p99, engineThroughputB1: m.latency?.throughputPerS,
                    engineLargestBatch: largest?.batchSize, engineThroughputLargest: largest?.throughputPerS, server: server))
        }
        return OptimizedResults(title: manifest.title, commands: manifest.commands, notes: manifest.notes, variants: variants)
    }

    public func json() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }
}
