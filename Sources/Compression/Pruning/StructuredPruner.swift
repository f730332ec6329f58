import Formats
import Foundation
import Layers
import Tensors

/// Whether pruning ratios apply to each group on its own or to all selected groups together.
public enum PruningScope: String, ConfigEnum {
    /// Every group loses its own ratio of units.
    case perLayer = "per-layer"
    /// The ratio is a budget over all selected groups; scores are divided by their group's mean first (Torch-Pruning's
    /// `normalizer="mean"`) so that groups of different widths compare, and no group loses every unit.
    case global
}

/// Which units of which groups survive: group root → kept unit indices, ascending.
public struct StructuredPruningPlan: Sendable, Equatable {
    public var kept: [String: [Int]]
    /// Units each group had before.
    public var units: [String: Int]
    public init(kept: [String: [Int]] = [:], units: [String: Int] = [:]) { self.kept = kept; self.units = units }
}

/// Structured pruning: chooses units by importance (``plan(groups:scores:)``) and deletes them physically
/// (``apply(_:to:)``): the returned model's modules are smaller, its config records the new widths (BERT
/// `layer_shapes`, layer specs), and an artifact written from it stores the smaller tensors.
///
/// ```swift
/// let pruner = StructuredPruner(kind: .channels, ratio: 0.5)
/// let groups = try DependencyGraph.groups(of: model)
/// let scores = try pruner.weightScores(groups, model: model, criterion: .l2)
/// let smaller = try StructuredPruner.apply(try pruner.plan(groups: groups, scores: scores), to: model)
/// ```
public struct StructuredPruner: Sendable {
    public var kind: PruningUnitKind
    /// The fraction of units to remove, in [0, 1).
    public var ratio: Double
    /// Per-root overrides (first matching pattern wins).
    public var ratios: [(pattern: PathPattern, ratio: Double)]
    public var scope: PruningScope
    public var targets: [String]?
    public var ignore: [String]?

    public init(
        kind: PruningUnitKind, ratio: Double, ratios: [(pattern: PathPattern, ratio: Double)] = [], scope: PruningScope = .perLayer,
        targets: [String]? = nil, ignore: [String]? = nil
    ) {
        self.kind = kind; self.ratio = ratio; self.ratios = ratios; self.scope = scope; self.targets = targets; self.ignore = ignore
    }

    /// The groups of this pruner's kind whose root (or, for layers, some unit path) the patterns select.
    public func selectedGroups(_ groups: [PruningGroup]) throws -> [PruningGroup] {
        let ofKind = groups.filter { $0.kind == kind }
        guard !ofKind.isEmpty else {
            throw CompressionError.pruning(key: "structure", message: "the model has no prunable \(kind.rawValue)")
        }
        let roots = try PathPattern.select(ofKind.map(\.root), targets: targets, ignore: ignore)
        let selected = ofKind.filter { g in
            if let paths = g.unitPaths { return !((try? PathPattern.select(paths, targets: targets, ignore: ignore)) ?? []).isEmpty }
            return roots.contains(g.root)
        }
        guard !selected.isEmpty else {
            throw CompressionError.pruning(
                key: "targets", message: "no \(kind.rawValue) group matches targets \(targets ?? ["(all)"]) minus ignore \(ignore ?? [])")
        }
        return selected
    }

    /// Weight-based scores (magnitude, l1, l2, or taylor with `gradients`) of the selected groups.
    public func weightScores(
        _ groups: [PruningGroup], model: LoadedModel, criterion: PruningCriterion, gradients: [String: Tensor]? = nil
    ) throws -> [String: [Double]] {
        let parameters = Dictionary(uniqueKeysWithValues: model.root.namedParameters())
        var out: [String: [Double]] = [:]
        for g in try selectedGroups(groups) {
            guard g.kind != .layers else {
                throw CompressionError.pruning(
                    key: "criterion", message: "whole layers are ranked by calibration (criterion: activation), not \(criterion.rawValue)")
            }
            out[g.root] = try PruningImportance.scores(g, parameters: parameters, criterion: criterion, gradients: gradients)
        }
        return out
    }

    func ratio(for root: String) -> Double { ratios.first { $0.pattern.matches(root) }?.ratio ?? ratio }

    /// Units kept when `ratio` of `units` go: ⌊units·(1 − ratio)⌋ (Torch-Pruning's rounding).
    public static func keepCount(_ units: Int, ratio: Double) -> Int { Int((Double(units) * (1 - ratio) + 1e-9).rounded(.down)) }

    /// Chooses the units to remove: lowest scores first, ties to the lower index (as numpy's stable sort does).
    public func plan(groups: [PruningGroup], scores: [String: [Double]]) throws -> StructuredPruningPlan {
        var plan = StructuredPruningPlan()
        let selected = try selectedGroups(groups)
        for r in [ratio] + ratios.map(\.ratio) where !(r >= 0 && r < 1) {
            throw CompressionError.pruning(key: "sparsity", message: "\(r) is outside [0, 1)")
        }
        // Units that may go in each group (layers: the unit paths the patterns select).
        func candidates(_ g: PruningGroup) throws -> [Int] {
            guard let paths = g.unitPaths else { return Array(0..<g.units) }
            let chosen = Set(try PathPattern.select(paths, targets: targets, ignore: ignore))
            return (0..<g.units).filter { chosen.contains(paths[$0]) }
        }
        func ranked(_ s: [Double], _ units: [Int]) -> [Int] { units.sorted { (s[$0], $0) < (s[$1], $1) } }
        var removed: [String: Set<Int>] = [:]
        switch scope {
        case .perLayer:
            for g in selected {
                guard let s = scores[g.root], s.count == g.units else {
                    throw CompressionError.pruning(key: "criterion", message: "no scores for '\(g.root)'")
                }
                let r = ratio(for: g.root)
                let keep = Self.keepCount(g.units, ratio: r)
                guard keep > 0 else {
                    throw CompressionError.pruning(
                        key: "sparsity", message: "\(r) would remove every one of the \(g.units) \(g.kind.rawValue) of '\(g.root)'")
                }
                removed[g.root] = Set(ranked(s, try candidates(g)).prefix(g.units - keep))
            }
        case .global:
            var pool: [(score: Double, root: String, unit: Int)] = []
            var total = 0
            for g in selected {
                guard let s = scores[g.root], s.count == g.units else {
                    throw CompressionError.pruning(key: "criterion", message: "no scores for '\(g.root)'")
                }
                let mean = s.reduce(0, +) / Double(max(s.count, 1))
                for u in try candidates(g) { pool.append((s[u] / (mean > 0 ? mean : 1), g.root, u)) }
                total += g.units
            }
            var budget = total - Self.keepCount(total, ratio: ratio)
            let units = Dictionary(uniqueKeysWithValues: selected.map { ($0.root, $0.units) })
            for c in pool.sorted(by: { ($0.score, $0.root, $0.unit) < ($1.score, $1.root, $1.unit) }) where budget > 0 {
                // The last unit of a group stays: a layer with no channel left would cut the network.
                if removed[c.root, default: []].count + 1 >= units[c.root]! { continue }
                removed[c.root, default: []].insert(c.unit)
                budget -= 1
            }
        }
        for g in selected {
            plan.units[g.root] = g.units
            plan.kept[g.root] = (0..<g.units).filter { !(removed[g.root] ?? []).contains($0) }
        }
        return plan
    }

    /// The model with the plan's units deleted: every coupled slice of every group shrinks, and the architecture is
    /// rebuilt with the new widths. A plan that keeps everything returns an equal model (same weights).
    public static func apply(_ plan: StructuredPruningPlan, to model: LoadedModel) throws -> LoadedModel {
        let groups = try DependencyGraph.groups(of: model)
        var weights = Dictionary(uniqueKeysWithValues: model.root.namedParameters())
        for g in groups where g.kind != .layers {
            guard let kept = plan.kept[g.root] else { continue }
            for slice in g.slices {
                guard let w = weights[slice.parameter] else { throw ModelError.missingParameter(slice.parameter) }
                weights[slice.parameter] = w.taking(kept.flatMap { slice.indices[$0] }.sorted(), axis: slice.axis)
            }
        }
        switch model.kind {
        case let .sequential(m):
            let specs = try m.specs.map { spec -> LayerSpec in
                var s = spec
                switch spec.type {
                case .dense:
                    let w = try require(weights, spec.name + ".weight")
                    s.outFeatures = w.shape[0]
                    s.inFeatures = w.shape[1]
                case .conv2d:
                    let w = try require(weights, spec.name + ".weight")
                    s.outFeatures = w.shape[0]
                    s.inFeatures = w.shape[3]
                case .batchNorm:
                    s.outFeatures = try require(weights, spec.name + ".gamma").shape[0]
                default: break
                }
                return s
            }
            let pruned = try SequentialModel(inputShape: m.inputShape, specs: specs)
            try pruned.update(parameters: weights)
            return LoadedModel(kind: .sequential(pruned), source: model.source, format: model.format, provenance: model.provenance)
        case let .sentenceEncoder(bert, pooling, tokenizer):
            var config = bert.config
            var shapes = config.layers
            for (i, _) in shapes.enumerated() {
                if let heads = plan.kept["encoder.layer.\(i).attention"] { shapes[i].heads = heads.count }
                if let ffn = plan.kept["encoder.layer.\(i).intermediate"] { shapes[i].intermediateSize = ffn.count }
            }
            let keptLayers = plan.kept["encoder.layer"] ?? Array(shapes.indices)
            // Renumber the surviving layers' parameters: encoder.layer.<old> → encoder.layer.<new>.
            var renamed: [String: Tensor] = [:]
            for (key, t) in weights {
                guard key.hasPrefix("encoder.layer.") else { renamed[key] = t; continue }
                let rest = key.dropFirst("encoder.layer.".count)
                guard let dot = rest.firstIndex(of: "."), let old = Int(rest[..<dot]) else { renamed[key] = t; continue }
                guard let new = keptLayers.firstIndex(of: old) else { continue }
                renamed["encoder.layer.\(new)" + rest[dot...]] = t
            }
            config.layerShapes = keptLayers.map { shapes[$0] }
            config.numHiddenLayers = keptLayers.count
            let pruned = try BertModel(config: config, withPooler: bert.hasPooler)
            try pruned.update(parameters: renamed)
            return LoadedModel(
                kind: .sentenceEncoder(pruned, pooling, tokenizer), source: model.source, format: model.format,
                provenance: model.provenance)
        }
    }

    private static func require(_ weights: [String: Tensor], _ key: String) throws -> Tensor {
        guard let w = weights[key] else { throw ModelError.missingParameter(key) }
        return w
    }
}
