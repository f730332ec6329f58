import Formats
import Layers
import Tensors

/// How zeros are laid out by unstructured and semi-structured pruning.
public enum SparsityPattern: Sendable, Equatable, CustomStringConvertible {
    /// Any weight may go (magnitude pruning).
    case unstructured
    /// Blocks of 1×`width` consecutive weights along the input axis go or stay together (vectorizable sparsity).
    case blocks(width: Int)
    /// In every run of `m` consecutive input weights of a row, exactly `n` stay (NVIDIA's 2:4).
    case nOfM(n: Int, m: Int)

    /// Parses `unstructured`, `1x8` (or `blocks:1x8`), `2:4` (or `n:m:2:4`); nil when it is none of them.
    public init?(spelling: String) {
        let s = spelling.lowercased().replacingOccurrences(of: "blocks:", with: "").replacingOccurrences(of: "n:m:", with: "")
        if s == "unstructured" { self = .unstructured; return }
        let block = s.split(separator: "x")
        if block.count == 2, block[0] == "1", let k = Int(block[1]), k > 0 { self = .blocks(width: k); return }
        let nm = s.split(separator: ":")
        if nm.count == 2, let n = Int(nm[0]), let m = Int(nm[1]), n > 0, m > n { self = .nOfM(n: n, m: m); return }
        return nil
    }

    public var description: String {
        switch self {
        case .unstructured: return "unstructured"
        case let .blocks(k): return "1x\(k)"
        case let .nOfM(n, m): return "\(n):\(m)"
        }
    }

    /// Weights that go or stay together along a row.
    var width: Int {
        switch self {
        case .unstructured: return 1
        case let .blocks(k): return k
        case let .nOfM(_, m): return m
        }
    }
}

/// Keep-masks of pruned weights (1 = kept), by parameter path; the weights they belong to are zero where the mask
/// is 0. Fine-tuning re-applies them after every optimizer step (``apply(to:)``), so pruned weights stay pruned.
public struct PruningMasks: Sendable {
    /// Parameter path → (element count) mask.
    public var masks: [String: [UInt8]]

    public init(_ masks: [String: [UInt8]] = [:]) { self.masks = masks }

    /// Zeros the masked weights of `model` (unfrozen): the trainer's hook after each optimizer step. In place, each
    /// edited module re-prepared once (no copies: this runs after every step of a fine-tune).
    public func apply(to model: Module) throws {
        let params = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.0, $0.1.count) })
        for (path, mask) in masks {
            guard let count = params[path] else { throw ModelError.noSuchModule(path) }
            guard count == mask.count else { throw ModelError.shapeMismatch(name: path, expected: [mask.count], got: [count]) }
        }
        try model.editParametersInPlace(masks.keys.sorted()) { path, w in
            let mask = masks[path]!
            for i in 0..<mask.count where mask[i] == 0 { w[i] = 0 }
        }
    }

    /// Fraction of zeros over all masked weights.
    public var sparsity: Double {
        let total = masks.values.reduce(0) { $0 + $1.count }
        let zeros = masks.values.reduce(0) { acc, m in acc + m.lazy.filter { $0 == 0 }.count }
        return total == 0 ? 0 : Double(zeros) / Double(total)
    }
}

/// Zhu & Gupta's gradual schedule (2017): s(t) = s_end + (s_start − s_end)·(1 − t/n)³ for pruning steps t = 0…n, so
/// most weights go early, while the network can still recover, and few at the end.
public struct CubicSparsitySchedule: Sendable, Equatable {
    public var start: Double
    public var end: Double
    public var steps: Int
    public init(start: Double, end: Double, steps: Int) { self.start = start; self.end = end; self.steps = steps }

    /// Sparsity after pruning step `step` (1…steps; the last equals `end`).
    public func sparsity(at step: Int) -> Double {
        let t = Double(min(max(step, 0), steps)) / Double(max(steps, 1))
        return end + (start - end) * (1 - t) * (1 - t) * (1 - t)
    }
}

/// Unstructured and semi-structured pruning of Linear and Conv2D weights (magnitude or L1/L2 of blocks), per layer
/// or with one global threshold. Rows are the weights' output units; a Conv2D row is its (kh·kw·in) patch.
public struct UnstructuredPruner: Sendable {
    public var pattern: SparsityPattern
    public var scope: PruningScope
    public var targets: [String]?
    public var ignore: [String]?
    /// `l2` scores a block by √Σw²; anything else by Σ|w| (for single weights both are |w|).
    public var criterion: PruningCriterion

    public init(
        pattern: SparsityPattern = .unstructured, criterion: PruningCriterion = .magnitude, scope: PruningScope = .perLayer,
        targets: [String]? = nil, ignore: [String]? = nil
    ) {
        self.pattern = pattern; self.criterion = criterion; self.scope = scope; self.targets = targets; self.ignore = ignore
    }

    /// Weight paths (`fc1.weight`) of the fp32 Linear/Conv2D modules the patterns select.
    public func targetWeights(_ model: Module) throws -> [(path: String, rows: Int, cols: Int)] {
        let modules = model.namedModules().filter { $0.1 is Linear || $0.1 is Conv2D }
        let selected = Set(try PathPattern.select(modules.map(\.0), targets: targets, ignore: ignore))
        guard !selected.isEmpty else {
            throw CompressionError.pruning(key: "targets", message: "no Linear or Conv2D module matches targets \(targets ?? ["(all)"])")
        }
        return try modules.filter { selected.contains($0.0) }.map { (path, module) -> (path: String, rows: Int, cols: Int) in
            let w = module.parameter("weight")
            let rows = w.shape[0], cols = w.count / max(rows, 1)
            if pattern.width > 1, cols % pattern.width != 0 {
                throw CompressionError.pruning(
                    key: "structure", message: "\(pattern) needs rows divisible by \(pattern.width); '\(path)' has rows of \(cols)")
            }
            return (path.isEmpty ? "weight" : path + ".weight", rows, cols)
        }
    }

    /// Masks reaching `sparsity` (ignored for n:m, whose sparsity is 1 − n/m) over the selected weights.
    public func masks(for model: Module, sparsity: Double) throws -> PruningMasks {
        guard sparsity >= 0, sparsity < 1 else { throw CompressionError.pruning(key: "sparsity", message: "\(sparsity) is outside [0, 1)") }
        let targets = try targetWeights(model)
        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters())
        let k = pattern.width
        // Score of each block (a run of k weights in a row; single weights when unstructured).
        var scores: [String: [Float]] = [:]
        for t in targets {
            let w = parameters[t.path]!.floats
            scores[t.path] = stride(from: 0, to: w.count, by: k).map { s -> Float in
                var a: Float = 0
                for i in s..<(s + k) { a += criterion == .l2 ? w[i] * w[i] : abs(w[i]) }
                return criterion == .l2 ? a.squareRoot() : a
            }
        }
        var out: [String: [UInt8]] = [:]
        func expand(_ keepBlocks: [Bool]) -> [UInt8] { keepBlocks.flatMap { [UInt8](repeating: $0 ? 1 : 0, count: k) } }
        switch pattern {
        case let .nOfM(n, m):
            for t in targets {
                let w = parameters[t.path]!.floats
                var mask = [UInt8](repeating: 0, count: w.count)
                for g in stride(from: 0, to: w.count, by: m) {
                    // Keep the n largest |w| of the group; ties to the lower index.
                    let order = (g..<(g + m)).sorted { (abs(w[$0]), -$0) > (abs(w[$1]), -$1) }
                    for i in order.prefix(n) { mask[i] = 1 }
                }
                out[t.path] = mask
            }
        case .unstructured, .blocks:
            switch scope {
            case .perLayer:
                for t in targets {
                    let s = scores[t.path]!
                    let drop = Int((Double(s.count) * sparsity + 1e-9).rounded(.down))
                    var keep = [Bool](repeating: true, count: s.count)
                    for i in s.indices.sorted(by: { (s[$0], $0) < (s[$1], $1) }).prefix(drop) { keep[i] = false }
                    out[t.path] = expand(keep)
                }
            case .global:
                var pool: [(Float, Int, Int)] = []  // (score, target, block)
                for (ti, t) in targets.enumerated() { for (b, s) in scores[t.path]!.enumerated() { pool.append((s, ti, b)) } }
                let drop = Int((Double(pool.count) * sparsity + 1e-9).rounded(.down))
                var keep = targets.map { [Bool](repeating: true, count: scores[$0.path]!.count) }
                pool.sort { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
                for (_, ti, b) in pool.prefix(drop) { keep[ti][b] = false }
                for (ti, t) in targets.enumerated() { out[t.path] = expand(keep[ti]) }
            }
        }
        return PruningMasks(out)
    }
}
