import Compression
import Console
import Evaluation
import Formats
import Foundation
import Layers
import Runtime
import Tensors

/// The metrics of one stage, as kept in `metrics.json`.
public struct StageRecord: Codable, Sendable {
    public var index: Int
    public var stage: String
    /// Measurements, for evaluate stages.
    public var metrics: EvalReport?
    /// Where an export stage wrote the artifact, relative to the run directory.
    public var artifact: String?
    /// Largest output difference between the exported artifact and the in-memory model (0 = identical).
    public var roundtripMaxAbsDiff: Double?
    /// Quantize stages: what happened to each module.
    public var quantization: [QuantizedLayerReport]?
    /// Quantize stages with tuning: every candidate tried, and the outcome.
    public var tuning: [TuningAttempt]?
    public var tuningSummary: String?
    /// Quantize stages with `sensitivity: true`: modules, most sensitive first.
    public var sensitivity: [LayerSensitivity]?
    /// Train and distill stages: learning curves, held-out figures, baselines.
    public var training: TrainingStageReport?
    /// Prune stages: what was removed, and the sensitivity sweep when asked for.
    public var pruning: PruneReport?
    public var seconds: Double

    public init(
        index: Int, stage: String, metrics: EvalReport? = nil, artifact: String? = nil, roundtripMaxAbsDiff: Double? = nil,
        quantization: [QuantizedLayerReport]? = nil, tuning: [TuningAttempt]? = nil, tuningSummary: String? = nil,
        sensitivity: [LayerSensitivity]? = nil, seconds: Double
    ) {
        self.index = index; self.stage = stage; self.metrics = metrics; self.artifact = artifact;
        self.roundtripMaxAbsDiff = roundtripMaxAbsDiff
        self.quantization = quantization; self.tuning = tuning; self.tuningSummary = tuningSummary; self.sensitivity = sensitivity;
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case index, stage, metrics, artifact, roundtripMaxAbsDiff = "roundtrip_max_abs_diff", quantization, tuning
        case tuningSummary = "tuning_summary", sensitivity, training, pruning, seconds
    }
}

/// The outcome of `compress run`: `metrics.json` in the run directory.
public struct RunRecord: Codable, Sendable {
    public var recipe: String
    public var name: String
    public var model: String
    public var sourceSha256: String
    public var toolVersion: String
    public var stages: [StageRecord]
    /// Constraint checks: human-readable lines, each starting with PASS or FAIL.
    public var constraints: [String]
    public var constraintsMet: Bool

    enum CodingKeys: String, CodingKey {
        case recipe, name, model, sourceSha256 = "source_sha256", toolVersion = "tool_version", stages, constraints, constraintsMet =
            "constraints_met"
    }

    /// The last evaluate stage's metrics (what `compare` reads from a run directory).
    public var finalMetrics: EvalReport? { stages.last { $0.metrics != nil }?.metrics }
}

/// Runs a recipe's stages in order and writes `artifacts/<name>/` (report.md, metrics.json, recipe.yaml,
/// model/ when exported) atomically: everything is built under a temporary name and renamed at the end.
public struct PipelineRunner {
    /// Stage messages, and the stages' own tasks (calibration, quantization, evaluation and timing passes).
    public var progress: ProgressReporter
    /// Threads of every stage (the command's `--threads`); when nil, all cores, and evaluate stages may set their own.
    public var threadsOverride: Int?
    /// Overrides `time_budget` of evaluate stages (tests use a small one).
    public var timeBudgetOverride: Double?
    /// Allows an existing empty directory not written by compress as the output (`--force`). Directories with
    /// files are only ever replaced when an earlier run wrote them (see ``DirectoryOwnership/run``).
    public var force = false
    /// Whether artifact models are checked against their recorded sha256 (`--no-verify` turns it off).
    public var verify = true
    /// Train and distill stages continue from their checkpoints (`--resume`, after a killed run).
    public var resume = false

    public init(threadsOverride: Int? = nil, timeBudgetOverride: Double? = nil, progress: ProgressReporter = .silent) {
        self.threadsOverride = threadsOverride
        self.timeBudgetOverride = timeBudgetOverride
        self.progress = progress
    }

    /// Runs `recipe` (read from `recipePath`) and returns the record; the run directory is `outputDirectory`
    /// or the recipe's `output` or `artifacts/<name>`.
    @discardableResult
    public func run(_ recipe: Recipe, recipePath: String, outputDirectory: String? = nil) throws -> (RunRecord, URL) {
        let outDir = URL(fileURLWithPath: outputDirectory ?? recipe.output ?? "artifacts/\(recipe.name)")
        // Refuse a foreign output directory before the work, not after minutes of it (and before a lock file is made
        // next to a directory we may not touch).
        try DirectoryOwnership.run.checkReplaceable(outDir, force: force)
        // One run per output directory at a time; held until this function returns (or the process dies).
        let lock = try OutputLock(for: outDir)
        defer { lock.release() }
        lock.recoverInterruptedRuns(of: outDir)
        // Again under the lock: a run that was killed mid-swap may have left the directory in another state.
        try DirectoryOwnership.run.checkReplaceable(outDir, force: force)
        progress.message("loading \(recipe.model)")
        let model = try ModelLoader.load(recipe.model, verify: verify)
        let calibration = try recipe.data?.calibration.map { try EvalData.load($0).items }
        let sourceSha = try SHA256.hex(ofFile: URL(fileURLWithPath: recipe.model))
        let evalData = try (recipe.data?.evaluation ?? []).map { try EvalData.load($0) }
        var records: [StageRecord] = []
        var record = RunRecord(
            recipe: recipePath, name: recipe.name, model: recipe.model, sourceSha256: sourceSha,
            toolVersion: compressToolVersion, stages: [], constraints: [], constraintsMet: true)
        let recipeText = (try? String(contentsOfFile: recipePath, encoding: .utf8)) ?? ""
        // One executor for the run; an evaluate stage with its own `threads` gets its own executor.
        let executor = Executor(threads: threadsOverride ?? Executor.availableCores)
        // Training checkpoints live next to the output, outside the temporary run directory, so they survive a kill;
        // removed once the whole run succeeded.
        let checkpoints = outDir.deletingLastPathComponent().appendingPathComponent(outDir.lastPathComponent + ".checkpoints")

        try withTemporaryDirectoryReplacing(outDir, ownership: .run, force: force) { tmp in
            var context = StageContext(
                recipe: recipe, recipePath: recipePath, index: 0, model: model, original: nil, calibration: calibration,
                evaluation: evalData, sourceSha256: sourceSha, directory: tmp, records: [], threadsOverride: threadsOverride,
                timeBudgetOverride: timeBudgetOverride, executor: executor, verify: verify, progress: progress,
                checkpointDirectory: checkpoints, resume: resume)
            for (index, stage) in recipe.stages.enumerated() {
                let start = Date()
                progress.message("stage \(index + 1)/\(recipe.stages.count): \(stage.name)")
                context.index = index
                context.records = records
                var stageRecord = try stage.run(&context)
                stageRecord.seconds = Date().timeIntervalSince(start)
                records.append(stageRecord)
            }
            record.stages = records
            (record.constraints, record.constraintsMet) = checkConstraints(recipe.constraints, records)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(record).write(to: tmp.appendingPathComponent("metrics.json"))
            try recipeText.write(to: tmp.appendingPathComponent("recipe.yaml"), atomically: false, encoding: .utf8)
            try RunReport.markdown(record).write(to: tmp.appendingPathComponent("report.md"), atomically: false, encoding: .utf8)
            try RunReport.html(record).write(to: tmp.appendingPathComponent("report.html"), atomically: false, encoding: .utf8)
        }
        try? FileManager.default.removeItem(at: checkpoints)
        return (record, outDir)
    }

    /// Checks constraints of later evaluate stages against the first one (the input model).
    func checkConstraints(_ c: Recipe.Constraints?, _ records: [StageRecord]) -> ([String], Bool) {
        guard let c else { return ([], true) }
        let evals = records.compactMap(\.metrics)
        guard let base = evals.first else { return (["no evaluate stage: constraints not checked"], true) }
        var lines: [String] = []
        var ok = true
        for (i, m) in evals.enumerated() {
            if let maxDrop = c.maxAccuracyDrop, let a0 = base.accuracy, let a = m.accuracy {
                let pass = a0 - a <= maxDrop + 1e-12
                ok = ok && pass
                lines.append("\(pass ? "PASS" : "FAIL") evaluate #\(i + 1): accuracy drop \(String(format: "%.4f", a0 - a)) ≤ \(maxDrop)")
            }
            if let minCos = c.minCosine, let f = m.fidelity {
                let pass = f.cosineMean >= minCos
                ok = ok && pass
                lines.append(
                    "\(pass ? "PASS" : "FAIL") evaluate #\(i + 1): cosine mean \(String(format: "%.6f", f.cosineMean)) ≥ \(minCos)")
            }
        }
        return (lines, ok)
    }
}
