import Console
import Formats
import Foundation
import Layers
import Runtime
import Tensors

/// What a prune stage did, for the run report.
public struct PruneReport: Codable, Sendable {
    public struct Group: Codable, Sendable {
        public var root: String
        public var units: Int
        public var kept: Int
        public init(root: String, units: Int, kept: Int) { self.root = root; self.units = units; self.kept = kept }
    }
    public var structure: String
    public var criterion: String
    public var scope: String
    /// Parameters (all tensors) before and after; structured pruning shrinks the count, masks do not.
    public var parametersBefore: Int
    public var parametersAfter: Int
    /// Zero fraction of the pruned weights (masked or not: a structured model has none).
    public var weightSparsity: Double
    /// Pruning steps run (1 for one-shot).
    public var steps: Int
    public var groups: [Group]?
    public var sensitivity: [PruneSensitivityRow]?

    public init(
        structure: String, criterion: String, scope: String, parametersBefore: Int, parametersAfter: Int, weightSparsity: Double,
        steps: Int, groups: [Group]? = nil, sensitivity: [PruneSensitivityRow]? = nil
    ) {
        self.structure = structure; self.criterion = criterion; self.scope = scope; self.parametersBefore = parametersBefore
        self.parametersAfter = parametersAfter; self.weightSparsity = weightSparsity; self.steps = steps; self.groups = groups
        self.sensitivity = sensitivity
    }

    enum CodingKeys: String, CodingKey {
        case structure, criterion, scope, parametersBefore = "parameters_before", parametersAfter = "parameters_after"
        case weightSparsity = "weight_sparsity", steps, groups, sensitivity
    }
}

/// One row of the sensitivity sweep: a module (or group) pruned alone at each sparsity, with the metric drop.
public struct PruneSensitivityRow: Codable, Sendable {
    public var target: String
    public var sparsities: [Double]
    /// Metric drop at each sparsity: 1 − mean cosine to the unpruned outputs (embeddings) or the fraction of items
    /// whose top-1 class changes (classifiers), on the ranking split.
    public var drops: [Double]
    public var metric: String
}

/// Runs a ``PruneConfig`` on a model: structured (dependency graph, physical deletion) or masked.
public struct Pruner {
    public let config: PruneConfig
    public let executor: Executor
    public var progress: ProgressReporter
    /// Gradients of the model's parameters summed over the calibration batches, for `criterion: taylor` (the
    /// training engine lives in a sibling target; the pipeline supplies this).
    public var gradients: ((LoadedModel) throws -> [String: Tensor])?

    public init(config: PruneConfig, executor: Executor, progress: ProgressReporter = .silent) {
        self.config = config
        self.executor = executor
        self.progress = progress
    }

    var ratios: [(pattern: PathPattern, ratio: Double)] {
        guard case let .perTarget(list) = config.sparsity else { return [] }
        return list.compactMap { p, r in (try? PathPattern(p)).map { (pattern: $0, ratio: r) } }
    }

    /// Structured: the model with units removed so that each selected group has lost `sparsity` of its units
    /// (per-target ratios from the config when it has them).
    public func pruneStructured(
        _ model: LoadedModel, kind: PruningUnitKind, sparsity: Double, calibration: ModelInputs?
    ) throws -> (LoadedModel, StructuredPruningPlan) {
        let pruner = StructuredPruner(
            kind: kind, ratio: sparsity, ratios: ratios, scope: config.scope ?? .perLayer, targets: config.targets, ignore: config.ignore)
        let groups = try DependencyGraph.groups(of: model)
        let criterion = config.effectiveCriterion
        let scores: [String: [Double]]
        switch criterion {
        case .activation:
            guard let calibration else { throw CompressionError.pruning(key: "criterion", message: "activation needs data.calibration") }
            scores = try ActivationImportance.scores(try pruner.selectedGroups(groups), model: model, calibration: calibration, on: executor)
        case .taylor:
            guard let gradients else { throw CompressionError.pruning(key: "criterion", message: "taylor needs gradients from calibration") }
            scores = try pruner.weightScores(groups, model: model, criterion: .taylor, gradients: try gradients(model))
        default:
            scores = try pruner.weightScores(groups, model: model, criterion: criterion)
        }
        let plan = try pruner.plan(groups: groups, scores: scores)
        return (try StructuredPruner.apply(plan, to: model), plan)
    }

    /// Masked: zeros `sparsity` of the selected weights (n:m ignores it) in `model` (unfrozen) and returns the masks.
    public func pruneMasked(_ model: LoadedModel, pattern: SparsityPattern, sparsity: Double) throws -> PruningMasks {
        let crit = config.effectiveCriterion
        var masks = PruningMasks()
        if case let .perTarget(list) = config.sparsity {
            // Each pattern prunes the modules it matches (first match wins) at its own ratio.
            var claimed = Set<String>()
            for (p, r) in list {
                let all = try UnstructuredPruner(pattern: pattern, criterion: crit, targets: [p], ignore: config.ignore)
                let paths = (try? all.targetWeights(model.root).map { $0.path }) ?? []
                let fresh = paths.filter { !claimed.contains($0) }
                claimed.formUnion(fresh)
                guard !fresh.isEmpty else { continue }
                let modules = fresh.map { String($0.dropLast(".weight".count)) }
                let m = try UnstructuredPruner(
                    pattern: pattern, criterion: crit, scope: config.scope ?? .perLayer, targets: modules, ignore: config.ignore
                ).masks(for: model.root, sparsity: r)
                masks.masks.merge(m.masks) { a, _ in a }
            }
        } else {
            masks = try UnstructuredPruner(
                pattern: pattern, criterion: crit, scope: config.scope ?? .perLayer, targets: config.targets, ignore: config.ignore
            ).masks(for: model.root, sparsity: sparsity)
        }
        try masks.apply(to: model.root)
        return masks
    }

    /// Prunes each target alone at each sparsity on a fresh copy (`load`) and measures the drop against the
    /// unpruned outputs on `ranking` items (not the held-out evaluation split), most sensitive first.
    public func sensitivity(load: () throws -> LoadedModel, ranking: ModelInputs, sparsities: [Double]) throws -> [PruneSensitivityRow] {
        let base = try load()
        let reference = try base.predict(ranking, on: executor)
        var targets: [String]
        switch config.structure {
        case let .structured(kind):
            let pruner = StructuredPruner(kind: kind, ratio: 0, targets: config.targets, ignore: config.ignore)
            // Whole layers are measured one layer at a time; other groups as a whole.
            targets = try pruner.selectedGroups(try DependencyGraph.groups(of: base)).flatMap { g in
                (g.unitPaths.map { try? PathPattern.select($0, targets: config.targets, ignore: config.ignore) } ?? nil) ?? [g.root]
            }
        case let .sparse(pattern):
            targets = try UnstructuredPruner(pattern: pattern, targets: config.targets, ignore: config.ignore).targetWeights(base.root).map {
                String($0.path.dropLast(".weight".count))
            }
        }
        var rows: [PruneSensitivityRow] = []
        progress.begin(total: targets.count * sparsities.count, label: "prune sensitivity")
        defer { progress.end() }
        for target in targets {
            var drops: [Double] = []
            var one = config
            one.targets = [target]
            one.ignore = nil
            one.sparsity = nil
            for s in sparsities {
                let model = try load()
                let single = Pruner(config: one, executor: executor)
                let pruned: LoadedModel
                switch config.structure {
                case let .structured(kind):
                    if kind == .layers {
                        pruned = try single.pruneStructured(model, kind: kind, sparsity: s, calibration: ranking).0
                    } else {
                        pruned = (try? single.pruneStructured(model, kind: kind, sparsity: s, calibration: ranking).0) ?? model
                    }
                case let .sparse(pattern):
                    _ = try single.pruneMasked(model, pattern: pattern, sparsity: s)
                    pruned = model
                }
                let out = try pruned.predict(ranking, on: executor)
                drops.append(Self.drop(out, reference, embeddings: base.takesText))
                progress.advance()
            }
            rows.append(PruneSensitivityRow(target: target, sparsities: sparsities, drops: drops, metric: base.takesText ? "1 - cosine" : "top-1 changed"))
        }
        return rows.sorted { ($0.drops.last ?? 0, $0.target) > ($1.drops.last ?? 0, $1.target) }
    }

    /// 1 − mean row cosine (embeddings) or the fraction of rows whose argmax changed (classifiers).
    static func drop(_ out: Tensor, _ ref: Tensor, embeddings: Bool) -> Double {
        let n = out.shape[0], k = out.count / max(n, 1), a = out.floats, b = ref.floats
        var total = 0.0
        for i in 0..<n {
            let x = a[(i * k)..<(i * k + k)], y = b[(i * k)..<(i * k + k)]
            if embeddings {
                var dot = 0.0, nx = 0.0, ny = 0.0
                for (u, v) in zip(x, y) { dot += Double(u) * Double(v); nx += Double(u) * Double(u); ny += Double(v) * Double(v) }
                total += 1 - dot / max((nx * ny).squareRoot(), 1e-12)
            } else {
                let ax = x.indices.max { x[$0] < x[$1] }!, ay = y.indices.max { y[$0] < y[$1] }!
                total += ax == ay ? 0 : 1
            }
        }
        return total / Double(max(n, 1))
    }

    /// A Markdown table of the sweep.
    public static func markdown(_ rows: [PruneSensitivityRow]) -> String {
        guard let first = rows.first else { return "" }
        var s = "| module | " + first.sparsities.map { String(format: "%.2f", $0) }.joined(separator: " | ") + " |\n"
        s += "|---|" + first.sparsities.map { _ in "---:" }.joined(separator: "|") + "|\n"
        for r in rows { s += "| \(r.target) | " + r.drops.map { String(format: "%.4f", $0) }.joined(separator: " | ") + " |\n" }
        return s + "\nMetric drop (\(first.metric)) against the unpruned model on the calibration (ranking) split.\n"
    }
}

extension PruningMasks {
    /// Zero fraction of the masked weights as they are in `model` now.
    public static func zeroFraction(_ model: Module, paths: [String]) -> Double {
        let params = Dictionary(uniqueKeysWithValues: model.namedParameters())
        var zeros = 0, total = 0
        for p in paths { if let t = params[p] { total += t.count; zeros += t.floats.lazy.filter { $0 == 0 }.count } }
        return total == 0 ? 0 : Double(zeros) / Double(total)
    }
}
