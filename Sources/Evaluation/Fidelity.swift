import Foundation
import Tensors

/// Quality metrics over model outputs (rows = items).
public enum Fidelity {
    /// Fraction of rows whose argmax equals the label.
    public static func accuracy(_ outputs: Tensor, labels: [Int]) -> Double {
        let n = outputs.shape[0], c = outputs.count / max(n, 1)
        let v = outputs.floats
        var correct = 0
        for i in 0..<n {
            var best = 0
            for j in 1..<c where v[i * c + j] > v[i * c + best] { best = j }
            if best == labels[i] { correct += 1 }
        }
        return n == 0 ? 0 : Double(correct) / Double(n)
    }

    /// Fraction of rows where both outputs have the same argmax.
    public static func topOneAgreement(_ a: Tensor, _ b: Tensor) -> Double {
        let n = a.shape[0], c = a.count / max(n, 1)
        let va = a.floats, vb = b.floats
        func argmax(_ v: [Float], _ i: Int) -> Int {
            var best = 0; for j in 1..<c where v[i * c + j] > v[i * c + best] { best = j }; return best
        }
        return n == 0 ? 0 : Double((0..<n).filter { argmax(va, $0) == argmax(vb, $0) }.count) / Double(n)
    }

    /// Row-wise cosine similarities between two (N, D) outputs, in double.
    public static func rowCosines(_ a: Tensor, _ b: Tensor) -> [Double] {
        precondition(a.shape == b.shape, "outputs differ in shape: \(a.shape) vs \(b.shape)")
        let n = a.shape[0], d = a.count / max(n, 1)
        let va = a.floats, vb = b.floats
        return (0..<n).map { i in
            var dot = 0.0, na = 0.0, nb = 0.0
            for j in 0..<d {
                let x = Double(va[i * d + j]), y = Double(vb[i * d + j])
                dot += x * y; na += x * x; nb += y * y
            }
            return na == 0 || nb == 0 ? (na == nb ? 1 : 0) : dot / (na.squareRoot() * nb.squareRoot())
        }
    }

    /// Largest absolute elementwise difference.
    /// NaN when any difference is NaN: `max` would otherwise drop it and report 0 for an all-NaN output.
    public static func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Double {
        zip(a.floats, b.floats).reduce(0) { m, p in
            let d = Double(abs(p.0 - p.1))
            return m.isNaN || d.isNaN ? .nan : max(m, d)
        }
    }

    /// Mean overlap of each item's k nearest neighbours (by cosine, excluding itself) under the two outputs:
    /// 1.0 means the model ranks neighbours exactly as the reference does.
    public static func nearestNeighbourOverlap(_ a: Tensor, _ b: Tensor, k: Int = 5) -> Double {
        let n = a.shape[0]
        guard n > k else { return 1 }
        let na = normalizedRows(a), nb = normalizedRows(b)
        let d = a.count / n
        var total = 0.0
        for i in 0..<n {
            func top(_ m: [Float]) -> Set<Int> {
                var sims: [(Float, Int)] = []
                sims.reserveCapacity(n)
                for j in 0..<n where j != i {
                    var s: Float = 0
                    for t in 0..<d { s += m[i * d + t] * m[j * d + t] }
                    sims.append((s, j))
                }
                return Set(sims.sorted { $0.0 > $1.0 }.prefix(k).map(\.1))
            }
            total += Double(top(na).intersection(top(nb)).count) / Double(k)
        }
        return total / Double(n)
    }

    /// Spearman rank correlation between the pairwise cosine similarities of the rows of `a` and those of `b`
    /// (all n(n−1)/2 pairs i < j), ties ranked by their average rank (scipy.stats.spearmanr).
    public static func pairwiseSimilaritySpearman(_ a: Tensor, _ b: Tensor) -> Double {
        precondition(a.shape == b.shape, "outputs differ in shape: \(a.shape) vs \(b.shape)")
        let n = a.shape[0]
        guard n > 2 else { return 1 }
        return spearman(pairwiseCosines(a), pairwiseCosines(b))
    }

    /// Upper-triangle cosine similarities (i < j, row-major), in double.
    static func pairwiseCosines(_ t: Tensor) -> [Double] {
        let n = t.shape[0], d = t.count / n
        let v = t.floats.map(Double.init)
        var norms = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var s = 0.0
            for k in 0..<d { s += v[i * d + k] * v[i * d + k] }
            norms[i] = max(s.squareRoot(), 1e-12)
        }
        var out: [Double] = []
        out.reserveCapacity(n * (n - 1) / 2)
        for i in 0..<n {
            for j in (i + 1)..<n {
                var s = 0.0
                for k in 0..<d { s += v[i * d + k] * v[j * d + k] }
                out.append(s / (norms[i] * norms[j]))
            }
        }
        return out
    }

    /// Pearson correlation of the average ranks of `x` and `y`.
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count, "spearman of \(x.count) and \(y.count) values")
        let rx = ranks(x), ry = ranks(y)
        let m = Double(x.count + 1) / 2  // the mean of ranks 1…n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<x.count {
            let dx = rx[i] - m, dy = ry[i] - m
            sxy += dx * dy; sxx += dx * dx; syy += dy * dy
        }
        return sxx == 0 || syy == 0 ? .nan : sxy / (sxx * syy).squareRoot()
    }

    /// 1-based ranks, ties sharing their average rank.
    static func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var r = [Double](repeating: 0, count: v.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count, v[order[j + 1]] == v[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j { r[order[k]] = rank }
            i = j + 1
        }
        return r
    }

    static func normalizedRows(_ t: Tensor) -> [Float] {
        let n = t.shape[0], d = t.count / max(n, 1)
        var v = t.floats
        for i in 0..<n {
            var s: Float = 0
            for j in 0..<d { s += v[i * d + j] * v[i * d + j] }
            let inv = 1 / max(s.squareRoot(), 1e-12)
            for j in 0..<d { v[i * d + j] *= inv }
        }
        return v
    }

    /// Paraphrase check on pair embeddings laid out as (a0, b0, a1, b1, …): the fraction of
    /// (paraphrase, unrelated) pair combinations where the paraphrase pair is more similar (ROC AUC), and
    /// whether the least similar paraphrase still beats the median unrelated pair.
    public static func paraphraseCheck(_ embeddings: Tensor, isParaphrase: [Bool]) -> ParaphraseResult {
        let rows = embeddings.shape[0]
        precondition(rows == 2 * isParaphrase.count, "pair embeddings must be (2·pairs, D)")
        let a = Tensor(
            shape: [isParaphrase.count, embeddings.count / rows],
            floats: stride(from: 0, to: rows, by: 2).flatMap { embeddings.rows($0..<($0 + 1)).floats })
        let b = Tensor(
            shape: [isParaphrase.count, embeddings.count / rows],
            floats: stride(from: 1, to: rows, by: 2).flatMap { embeddings.rows($0..<($0 + 1)).floats })
        let cos = rowCosines(a, b)
        let para = zip(cos, isParaphrase).filter { $0.1 }.map(\.0)
        let unrel = zip(cos, isParaphrase).filter { !$0.1 }.map(\.0).sorted()
        var wins = 0.0
        for p in para { for u in unrel { wins += p > u ? 1 : (p == u ? 0.5 : 0) } }
        let median = unrel.isEmpty ? 0 : unrel[unrel.count / 2]
        return ParaphraseResult(
            pairs: isParaphrase.count, auc: wins / Double(max(para.count * unrel.count, 1)),
            meanParaphraseCosine: para.reduce(0, +) / Double(max(para.count, 1)),
            meanUnrelatedCosine: unrel.reduce(0, +) / Double(max(unrel.count, 1)),
            paraphraseAboveMedianUnrelated: Double(para.filter { $0 > median }.count) / Double(max(para.count, 1)))
    }
}

/// Result of ``Fidelity/paraphraseCheck(_:isParaphrase:)``.
public struct ParaphraseResult: Codable, Sendable {
    public var pairs: Int
    /// P(paraphrase cosine > unrelated cosine) over all combinations.
    @FiniteOrNull public var auc: Double
    @FiniteOrNull public var meanParaphraseCosine: Double
    @FiniteOrNull public var meanUnrelatedCosine: Double
    /// Fraction of paraphrase pairs above the median unrelated pair.
    @FiniteOrNull public var paraphraseAboveMedianUnrelated: Double

    enum CodingKeys: String, CodingKey {
        case pairs, auc
        case meanParaphraseCosine = "mean_paraphrase_cosine", meanUnrelatedCosine = "mean_unrelated_cosine"
        case paraphraseAboveMedianUnrelated = "paraphrase_above_median_unrelated"
    }
}
