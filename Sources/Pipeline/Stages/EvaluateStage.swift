import Compression
import Evaluation
import Foundation
import Tensors

/// `- evaluate: {batch_sizes: [1, 32], threads: 1, time_budget: 10, timing: true}`: accuracy, fidelity to the
/// source model (once a stage changed it), size, latency and throughput on `data.evaluation`.
public struct EvaluateStage: RecipeStage {
    public static let name = "evaluate"
    public static var defaultConfig: EvaluateStage? { EvaluateStage() }

    public var batchSizes: [Int]?
    public var threads: Int?
    /// Seconds of timed passes per batch size at most.
    public var timeBudget: Double?
    /// Set false to skip latency/throughput.
    public var timing: Bool?

    public init(batchSizes: [Int]? = nil, threads: Int? = nil, timeBudget: Double? = nil, timing: Bool? = nil) {
        self.batchSizes = batchSizes; self.threads = threads; self.timeBudget = timeBudget; self.timing = timing
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case batchSizes = "batch_sizes", threads, timeBudget = "time_budget", timing }
    public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }

    public func validate(in recipe: Recipe, at index: Int) throws {
        if let b = batchSizes, b.isEmpty || b.contains(where: { $0 < 1 }) { throw StageProblem("batch_sizes must be positive integers") }
        if let t = threads, t < 1 { throw StageProblem("threads must be ≥ 1") }
        if let t = timeBudget, !(t.isFinite && t > 0) { throw StageProblem("time_budget must be a positive number of seconds, got \(t)") }
        if (recipe.data?.evaluation ?? []).isEmpty { throw StageProblem("an evaluate stage needs data.evaluation", at: ["data"]) }
    }

    public func run(_ context: inout StageContext) throws -> StageRecord {
        let stageThreads = context.threadsOverride ?? threads ?? context.executor.threads
        let executor = stageThreads == context.executor.threads ? context.executor : Executor(threads: stageThreads)
        var options = Evaluator.Options()
        options.batchSizes = batchSizes ?? [1, 32]
        options.timeBudget = context.timeBudgetOverride ?? timeBudget ?? 10
        options.skipTiming = timing == false
        var report = try Evaluator(options: options, executor: executor, progress: context.progress).evaluate(
            context.model, data: context.evaluation, reference: context.original,
            modelCache: context.modelIsSource ? context.sourceOutputs : nil, referenceCache: context.sourceOutputs)
        if context.original != nil {
            // The model in memory is no longer the source files: say what it is, and don't report the
            // source's file size as its own (the export stage's artifact has the real one).
            let changes = context.recipe.stages.prefix(context.index).filter { type(of: $0).changesModel }.map { $0.name }
            report.model = "\(context.recipe.model) after \(changes.joined(separator: " + "))"
            report.format = "in-memory"
            report.size.fileBytes = 0
        }
        var record = context.record(self)
        record.metrics = report
        return record
    }
}
