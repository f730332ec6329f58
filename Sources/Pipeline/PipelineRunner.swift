import Runtime
import Compression
import Evaluation
import Formats
import Foundation
import Layers
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
        case tuningSummary = "tuning_summary", sensitivity, seconds
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
    public var progress: (String) -> Void
    /// Threads of every stage (the command's `--threads`); when nil, all cores, and evaluate stages may set their own.
    public var threadsOverride: Int?
    /// Overrides `time_budget` of evaluate stages (tests use a small one).
    public var timeBudgetOverride: Double?

    public init(threadsOverride: Int? = nil, timeBudgetOverride: Double? = nil, progress: @escaping (String) -> Void = { _ in }) {
        self.threadsOverride = threadsOverride
        self.timeBudgetOverride = timeBudgetOverride
        self.progress = progress
    }

    /// Runs `recipe` (read from `recipePath`) and returns the record; the run directory is `outputDirectory`
    /// or the recipe's `output` or `artifacts/<name>`.
    @discardableResult
    public func run(_ recipe: Recipe, recipePath: String, outputDirectory: String? = nil) throws -> (RunRecord, URL) {
        let outDir = URL(fileURLWithPath: outputDirectory ?? recipe.output ?? "artifacts/\(recipe.name)")
        progress("loading \(recipe.model)")
        var model = try ModelLoader.load(recipe.model)
        // The untouched model, for fidelity once a stage has changed `model`.
        var original: LoadedModel?
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

        try withTemporaryDirectoryReplacing(outDir) { tmp in
            for (index, stage) in recipe.stages.enumerated() {
                let start = Date()
                progress("stage \(index + 1)/\(recipe.stages.count): \(stage.name)")
                switch stage {
                case let .evaluate(e):
                    let stageThreads = threadsOverride ?? e.threads ?? executor.threads
                    let stageExecutor = stageThreads == executor.threads ? executor : Executor(threads: stageThreads)
                    var options = Evaluator.Options()
                    options.batchSizes = e.batchSizes ?? [1, 32]
                    options.timeBudget = timeBudgetOverride ?? e.timeBudget ?? 10
                    options.skipTiming = e.timing == false
                    var report = try Evaluator(options: options, executor: stageExecutor, progress: progress).evaluate(model, data: evalData, reference: original)
                    if original != nil {
                        // The model in memory is no longer the source files: say what it is, and don't report the
                        // source's file size as its own (the export stage's artifact has the real one).
                        let changes = recipe.stages.prefix(index).map(\.name).filter { $0 != "evaluate" && $0 != "export" }
                        report.model = "\(recipe.model) after \(changes.joined(separator: " + "))"
                        report.format = "in-memory"
                        report.size.fileBytes = 0
                    }
                    records.append(StageRecord(index: index, stage: "evaluate", metrics: report, seconds: Date().timeIntervalSince(start)))
                case let .quantize(q):
                    if original == nil { original = try ModelLoader.load(recipe.model) }
                    var record = StageRecord(index: index, stage: "quantize", seconds: 0)
                    if q.sensitivity == true, let eval = evalData.first {
                        record.sensitivity = try SensitivityAnalysis(config: q, executor: executor, progress: progress).run(
                            model, eval: eval, calibration: calibration)
                    }
                    if q.tuning == true, let constraints = recipe.constraints, let eval = evalData.first {
                        let tuner = MixedPrecisionTuner(config: q, constraints: constraints, executor: executor, progress: progress)
                        let (tuned, attempts, summary) = try tuner.run(
                            load: { try ModelLoader.load(recipe.model) }, eval: eval, calibration: calibration)
                        model = tuned
                        record.tuning = attempts
                        record.tuningSummary = summary
                        record.quantization = quantizedModules(model)
                    } else {
                        record.quantization = try Quantizer(config: q, executor: executor, progress: progress).apply(to: model, calibration: calibration)
                    }
                    record.seconds = Date().timeIntervalSince(start)
                    records.append(record)
                case let .export(x):
                    let provenance = ArtifactManifest.Provenance(
                        source: recipe.model, sourceSha256: sourceSha, recipe: recipePath, toolVersion: compressToolVersion,
                        createdAt: ISO8601DateFormatter().string(from: Date()), stages: recipe.stages.prefix(index).map(\.name))
                    let artifactDir = tmp.appendingPathComponent("model")
                    try Artifact.write(model, to: artifactDir, provenance: provenance, zstd: x.zstd ?? false)
                    let diff = try roundTripDifference(model, artifactDir, evalData, on: executor)
                    records.append(
                        StageRecord(
                            index: index, stage: "export", artifact: "model", roundtripMaxAbsDiff: diff,
                            seconds: Date().timeIntervalSince(start)))
                }
            }
            record.stages = records
            (record.constraints, record.constraintsMet) = checkConstraints(recipe.constraints, records)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(record).write(to: tmp.appendingPathComponent("metrics.json"))
            try recipeText.write(to: tmp.appendingPathComponent("recipe.yaml"), atomically: false, encoding: .utf8)
            try RunReport.markdown(record).write(to: tmp.appendingPathComponent("report.md"), atomically: false, encoding: .utf8)
        }
        return (record, outDir)
    }

    /// What the tuned model's quantized modules are (the tuner rebuilt the model, so reports come from the tree).
    func quantizedModules(_ model: LoadedModel) -> [QuantizedLayerReport] {
        model.root.namedModules().compactMap { path, module in
            guard let q = module as? any QuantizedModule else { return nil }
            let spec = q.quantSpec
            return QuantizedLayerReport(
                path: path, bits: spec.kind.bits, method: spec.method ?? .rtn,
                activations: (spec.activationMode ?? .none).rawValue, bitsPerWeight: q.bitsPerWeight, weightRelativeError: nil,
                smoothingAlpha: nil)
        }
    }

    /// Reloads the artifact and compares outputs with the in-memory model on up to 32 evaluation items.
    func roundTripDifference(_ model: LoadedModel, _ dir: URL, _ data: [EvalData], on executor: Executor) throws -> Double? {
        guard let first = data.first else { return nil }
        let reloaded = try Artifact.load(dir)
        let items = first.items.slice(0..<min(32, first.items.count))
        return Fidelity.maxAbsDiff(try model.predict(items, on: executor), try reloaded.predict(items, on: executor))
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
