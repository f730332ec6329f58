import Foundation
import Formats
import Runtime
import Tensors
import Tokenizers

/// The engine alone, split by layer kind (`compress profile`): in-process timers switched on through a profiling
/// ``Executor``, so the figures are the same forward passes `compress eval` times, with no server around them.
public struct EngineProfile: Codable, Sendable {
    /// One kind's share.
    public struct Part: Codable, Sendable {
        public var kind: OpKind
        /// Mean milliseconds per pass (exclusive: nested kinds are charged to themselves).
        public var msPerPass: Double
        /// Share of the profiled total.
        public var fraction: Double
        /// Timed regions per pass.
        public var regionsPerPass: Double

        enum CodingKeys: String, CodingKey { case kind, msPerPass = "ms_per_pass", fraction, regionsPerPass = "regions_per_pass" }
    }

    public var model: String
    public var batch: Int
    /// Mean tokens per item (text models), nil for tensors.
    public var tokensPerItem: Double?
    public var threads: Int
    public var passes: Int
    public var parts: [Part]
    /// Sum of the parts per pass.
    public var profiledTotalMs: Double
    /// Wall-clock milliseconds per pass measured around each pass (tokenizer + forward + pooling), profiler on.
    public var endToEndMs: Double
    /// The same passes on an executor without a profiler: what the timers cost.
    public var unprofiledEndToEndMs: Double

    enum CodingKeys: String, CodingKey {
        case model, batch, tokensPerItem = "tokens_per_item", threads, passes, parts, profiledTotalMs = "profiled_total_ms"
        case endToEndMs = "end_to_end_ms", unprofiledEndToEndMs = "unprofiled_end_to_end_ms"
    }

    /// Profiles `passes` passes of `items` (after `warmup` passes) on `threads` threads; unprofiled passes
    /// alternate with profiled ones so machine noise hits both alike.
    public static func measure(
        _ model: LoadedModel, name: String, items: ModelInputs, threads: Int, passes: Int = 20, warmup: Int = 3
    ) throws -> EngineProfile {
        let profiler = OpProfiler()
        let profiled = Executor(threads: threads, profiler: profiler)
        let plain = Executor(threads: threads)
        func pass(on executor: Executor) throws {
            _ = try executor.timed(.other) {
                let prepared = try executor.timed(.tokenizer) { try model.prepare(items) }
                return try model.run(prepared, on: executor)
            }
        }
        for _ in 0..<max(0, warmup) {
            try pass(on: profiled)
            try pass(on: plain)
        }
        profiler.reset()
        var profiledNs: UInt64 = 0, plainNs: UInt64 = 0
        for _ in 0..<max(1, passes) {
            var t0 = DispatchTime.now().uptimeNanoseconds
            try pass(on: profiled)
            profiledNs += DispatchTime.now().uptimeNanoseconds - t0
            t0 = DispatchTime.now().uptimeNanoseconds
            try pass(on: plain)
            plainNs += DispatchTime.now().uptimeNanoseconds - t0
        }
        let n = Double(max(1, passes))
        let totals = profiler.nanoseconds, counts = profiler.regionCounts
        let sumNs = totals.values.reduce(0, +)
        let parts = OpKind.allCases.compactMap { kind -> Part? in
            guard let ns = totals[kind], let c = counts[kind] else { return nil }
            return Part(
                kind: kind, msPerPass: Double(ns) / n / 1e6, fraction: sumNs == 0 ? 0 : Double(ns) / Double(sumNs),
                regionsPerPass: Double(c) / n)
        }
        var tokens: Double? = nil
        if case let .texts(texts) = items, case let .sentenceEncoder(_, _, tokenizer) = model.kind {
            tokens = Double(texts.reduce(0) { $0 + tokenizer.encode($1).count }) / Double(max(1, texts.count))
        }
        return EngineProfile(
            model: name, batch: items.count, tokensPerItem: tokens, threads: profiled.threads, passes: Int(n), parts: parts,
            profiledTotalMs: Double(sumNs) / n / 1e6, endToEndMs: Double(profiledNs) / n / 1e6, unprofiledEndToEndMs: Double(plainNs) / n / 1e6)
    }

    /// `batch` texts of about `tokens` tokens each (special tokens included), built from the words of `lines` in
    /// order: real text at a chosen length, as `--seq` asks.
    public static func texts(from lines: [String], tokenizer: WordPieceTokenizer, batch: Int, tokens: Int) -> [String] {
        let words = lines.flatMap { $0.split(separator: " ").map(String.init) }
        guard !words.isEmpty else { return [] }
        var out: [String] = []
        var w = 0
        for _ in 0..<batch {
            var text = ""
            var guardCount = 0
            while guardCount < 4 * tokens + 8 {
                let candidate = text.isEmpty ? words[w % words.count] : text + " " + words[w % words.count]
                if tokenizer.encode(candidate).count > tokens && !text.isEmpty { break }
                text = candidate
                w += 1
                guardCount += 1
            }
            out.append(text)
        }
        return out
    }

    /// The table `compress profile` prints.
    public var text: String {
        var s = "\(model): batch \(batch)"
        if let t = tokensPerItem { s += String(format: ", %.1f tokens per item", t) }
        s += ", \(threads) thread\(threads == 1 ? "" : "s"), \(passes) passes\n\n"
        let rows = parts.sorted { $0.msPerPass > $1.msPerPass }
        let width = max(12, rows.map { label($0.kind).count }.max() ?? 0)
        s += "kind".padding(toLength: width, withPad: " ", startingAt: 0) + "   ms/pass   share  regions/pass\n"
        for p in rows {
            s += label(p.kind).padding(toLength: width, withPad: " ", startingAt: 0)
            s += String(format: "  %8.3f  %5.1f %%  %12.1f\n", p.msPerPass, p.fraction * 100, p.regionsPerPass)
        }
        s += String(format: "\nsum of kinds %.3f ms; measured end to end %.3f ms (%+.1f %%); without the profiler %.3f ms\n",
            profiledTotalMs, endToEndMs, (profiledTotalMs / max(endToEndMs, 1e-12) - 1) * 100, unprofiledEndToEndMs)
        return s
    }

    private func label(_ kind: OpKind) -> String {
        switch kind {
        case .gemm: return "GEMM (Linear)"
        case .normalization: return "LayerNorm/BatchNorm"
        case .activation: return "activation (GELU/ReLU)"
        case .other: return "other (glue, copies)"
        default: return kind.rawValue
        }
    }
}
