import Compression
import Console
import Formats
import Foundation
import Layers
import Runtime
import Tensors
import Training

/// `- prune: {structure, criterion, sparsity, scope, schedule, fine_tune, targets, ignore, sensitivity}`: removes
/// units through the dependency graph (channels, neurons, heads, layers: the model gets physically smaller) or
/// zeros weights under masks (unstructured, 1xK blocks, N:M). The keys are ``PruneConfig``'s.
///
/// Data: importance by activation or Taylor and the sensitivity sweep read `data.calibration` (the ranking split);
/// the metric an evaluate stage reports afterwards is measured on `data.evaluation`, which pruning never sees.
public struct PruneStage: RecipeStage {
    public static let name = "prune"
    public static let changesModel = true

    public var config: PruneConfig

    public init(_ config: PruneConfig) { self.config = config }
    public init(from decoder: Decoder) throws { config = try PruneConfig(from: decoder) }
    public func encode(to encoder: Encoder) throws { try config.encode(to: encoder) }
    public static var keySchema: KeySchema { PruneConfig.keySchema }

    public func validate(in recipe: Recipe, at index: Int) throws {
        do { try config.validate() } catch let e as CompressionError { throw StageProblem(e.description, at: ["stages", "\(index)"]) }
        if config.needsCalibration, recipe.data?.calibration == nil {
            throw StageProblem(
                "stage \(index + 1) (prune) needs data.calibration for criterion \(config.effectiveCriterion.rawValue) or sensitivity",
                at: ["data"])
        }
        if let spec = config.fineTune?.data, let held = recipe.data?.evaluation, [spec.train, spec.validation].contains(where: { held.contains($0 ?? "") }) {
            throw StageProblem("prune.fine_tune.data is also the recipe's evaluation data; fine-tuning needs its own split", at: ["stages", "\(index)"])
        }
    }

    public func run(_ context: inout StageContext) throws -> StageRecord {
        try context.keepOriginal()
        var record = context.record(self)
        let calibration = context.calibration.map { c in c.slice(0..<min(c.count, config.calibrationSamples ?? 256)) }
        var pruner = Pruner(config: config, executor: context.executor, progress: context.progress)
        let executor = context.executor
        pruner.gradients = { model in try TaylorGradients.sum(model, calibration: calibration, executor: executor) }
        let before = context.model.root.parameterCount
        var report = PruneReport(
            structure: config.structure.description, criterion: config.effectiveCriterion.rawValue,
            scope: (config.scope ?? .perLayer).rawValue, parametersBefore: before, parametersAfter: before, weightSparsity: 0, steps: 1)
        if let sweep = config.sensitivity {
            guard let calibration else { throw StageProblem("prune sensitivity needs data.calibration", at: ["data"]) }
            // Each measurement starts from the model as this stage received it: a fresh copy of the current weights.
            let snapshot = try ModelSnapshot(context.model)
            report.sensitivity = try pruner.sensitivity(load: { try snapshot.copy() }, ranking: calibration, sparsities: sweep.sparsities)
            FileHandle.standardError.write(Data(("prune sensitivity (stage \(context.index + 1)):\n" + Pruner.markdown(report.sensitivity!)).utf8))
        }
        let schedule = config.schedule.flatMap { s -> CubicSparsitySchedule? in
            s.kind == .gradualCubic ? CubicSparsitySchedule(start: s.start ?? 0, end: s.end ?? 0, steps: s.steps ?? 1) : nil
        }
        let steps = schedule?.steps ?? 1
        report.steps = steps
        var fineTunes: [TrainingRunReport] = []
        let teacher = try config.fineTune.flatMap { try PruneFineTune.teacher($0, entering: context.model, verify: context.verify) }
        switch config.structure {
        case let .structured(kind):
            let units = try Self.unitCounts(context.model, kind: kind)
            var model = context.model
            var lastPlan = StructuredPruningPlan()
            for step in 1...steps {
                let target = schedule?.sparsity(at: step) ?? config.targetSparsity ?? 0
                // Ratios are of the units each group had before the stage: convert to this step's ratio of what is left.
                let stepRatio = Self.stepRatio(target: target, original: units, current: try Self.unitCounts(model, kind: kind))
                let (pruned, plan) = try pruner.pruneStructured(model, kind: kind, sparsity: stepRatio, calibration: calibration)
                model = pruned
                lastPlan = plan
                if let ft = config.fineTune {
                    // Shapes change between steps, so each step recovers in its own run (`epochs` each).
                    let tuner = PruneFineTune(settings: ft, context: context, checkpointName: "prune-ft\(step)")
                    fineTunes.append(try tuner.run(model, teacher: teacher, masks: nil).0)
                }
            }
            context.model = model
            report.groups = lastPlan.kept.keys.sorted().map { PruneReport.Group(root: $0, units: units[$0] ?? 0, kept: lastPlan.kept[$0]!.count) }
        case let .sparse(pattern):
            var masks = PruningMasks()
            if let ft = config.fineTune {
                // Zhu & Gupta: step 1 now, the other steps inside the fine-tuning run, the masks kept at every step.
                let model = context.model, fixed = pruner
                masks = try pruner.pruneMasked(model, pattern: pattern, sparsity: schedule?.sparsity(at: 1) ?? config.targetSparsity ?? 0)
                let gradual = schedule.map { sch in
                    PruneFineTune.Gradual(steps: sch.steps) { k in try fixed.pruneMasked(model, pattern: pattern, sparsity: sch.sparsity(at: k)) }
                }
                let tuner = PruneFineTune(settings: ft, context: context, checkpointName: steps > 1 ? nil : "prune-ft")
                let (run, final) = try tuner.run(model, teacher: teacher, masks: masks, gradual: gradual)
                fineTunes.append(run)
                masks = final ?? masks
            } else {
                for step in 1...steps {
                    let target = schedule?.sparsity(at: step) ?? config.targetSparsity ?? 0
                    masks = try pruner.pruneMasked(context.model, pattern: pattern, sparsity: target)
                }
            }
            report.weightSparsity = PruningMasks.zeroFraction(context.model.root, paths: Array(masks.masks.keys))
        }
        if !fineTunes.isEmpty {
            for i in fineTunes.indices.dropLast() { fineTunes[i].role += " (step \(i + 1))" }
            fineTunes[fineTunes.count - 1].heldOut = try context.heldOut(
                context.model, reference: teacher ?? context.original, referenceIsSource: teacher == nil)
            record.training = TrainingStageReport(
                teacher: config.fineTune?.distillFrom, teacherParameters: teacher?.root.parameterCount, teacherHeldOut: nil, runs: fineTunes)
        }
        report.parametersAfter = context.model.root.parameterCount
        record.pruning = report
        return record
    }

    /// Units per group of `kind` now.
    static func unitCounts(_ model: LoadedModel, kind: PruningUnitKind) throws -> [String: Int] {
        Dictionary(uniqueKeysWithValues: try DependencyGraph.groups(of: model).filter { $0.kind == kind }.map { ($0.root, $0.units) })
    }

    /// The ratio of the current units that leaves ⌊original · (1 − target)⌋ of the smallest group (per-layer ratios
    /// are uniform, so one ratio serves every group up to rounding).
    static func stepRatio(target: Double, original: [String: Int], current: [String: Int]) -> Double {
        guard let smallest = original.min(by: { $0.value < $1.value }), let now = current[smallest.key], now > 0 else { return target }
        let keep = StructuredPruner.keepCount(smallest.value, ratio: target)
        // A ratio that empties a group passes through unchanged, so the pruner's error quotes the recipe's value.
        guard keep > 0 else { return target }
        return max(0, min(Double(now - keep) / Double(now), 0.999_999))
    }
}

/// Copies a model by its parameters (structure rebuilt from the same architecture): the sensitivity sweep prunes
/// many copies of the model a stage received, which may already differ from the recipe's source.
struct ModelSnapshot {
    let model: LoadedModel
    let weights: [String: Tensor]

    init(_ model: LoadedModel) throws {
        self.model = model
        weights = Dictionary(uniqueKeysWithValues: model.root.namedParameters())
    }

    func copy() throws -> LoadedModel {
        switch model.kind {
        case let .sequential(m):
            let again = try SequentialModel(inputShape: m.inputShape, specs: m.specs)
            try again.update(parameters: weights)
            return LoadedModel(kind: .sequential(again), source: model.source, format: model.format, provenance: model.provenance)
        case let .sentenceEncoder(bert, pooling, tokenizer):
            let again = try BertModel(config: bert.config, withPooler: bert.hasPooler)
            try again.update(parameters: weights)
            return LoadedModel(kind: .sentenceEncoder(again, pooling, tokenizer), source: model.source, format: model.format)
        }
    }
}

/// Taylor importance's gradients: Σ over calibration batches of ∂L/∂w, with L the cross-entropy of the model's
/// logits against its own top-1 classes (calibration data has no labels; the model's own decisions are what pruning
/// must keep). Classifiers only: a sentence encoder's natural loss needs a teacher or pairs.
enum TaylorGradients {
    static func sum(_ model: LoadedModel, calibration: ModelInputs?, executor: Executor, batch: Int = 64) throws -> [String: Tensor] {
        guard case let .sequential(m) = model.kind else {
            throw CompressionError.pruning(key: "criterion", message: "taylor is for classifiers; use l2 or activation for sentence encoders")
        }
        guard let calibration, case let .tensor(x) = calibration else {
            throw CompressionError.pruning(key: "criterion", message: "taylor needs tensor calibration data")
        }
        let grads = Gradients(trainableIn: m)
        let context = TrainingContext(executor: executor, mode: .eval, dropout: false)
        var start = 0
        while start < x.shape[0] {
            let xb = x.rows(start..<min(x.shape[0], start + batch))
            start += batch
            let (logits, tape) = try m.trainingForward(xb, context: context)
            let k = logits.shape[1], v = logits.floats
            let labels = (0..<logits.shape[0]).map { i in (0..<k).max { v[i * k + $0] < v[i * k + $1] }! }
            let loss = try CrossEntropy().evaluate(logits: logits, labels: labels)
            try m.backward(loss.gradient, tape: tape, gradients: grads, context: context)
        }
        return Dictionary(uniqueKeysWithValues: grads.paths.map { ($0, grads.tensor($0)!) })
    }
}
