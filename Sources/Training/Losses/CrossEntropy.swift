import Tensors

/// Loss value and its gradient with respect to the loss's input (logits, embeddings, …).
public struct LossResult: Sendable {
    /// Mean over the batch.
    public let loss: Double
    /// dL/dinput, same shape as the input.
    public let gradient: Tensor
}

/// Softmax cross-entropy on logits with label smoothing (PyTorch's `label_smoothing`): the target is
/// q = (1 − ε)·onehot(y) + ε/C, L = −mean_n Σ_c q_c·log softmax(z)_c, and dL/dz = (softmax(z) − q) / N.
public struct CrossEntropy: Sendable {
    public var labelSmoothing: Float
    public init(labelSmoothing: Float = 0) { self.labelSmoothing = labelSmoothing }

    /// logits: (N, C); labels: N class indices.
    public func evaluate(logits: Tensor, labels: [Int]) throws -> LossResult {
        let c = logits.shape.last!, n = logits.count / c
        guard labels.count == n else { throw TrainingError.badInput("\(labels.count) labels for \(n) rows of logits") }
        if let bad = labels.first(where: { $0 < 0 || $0 >= c }) { throw TrainingError.badInput("label \(bad) outside 0..<\(c)") }
        let eps = Double(labelSmoothing)
        var grad = Tensor(uninitialized: logits.shape)
        var total = 0.0
        grad.withUnsafeMutableFloats { gp in
            logits.withUnsafeFloats { lp in
                for r in 0..<n {
                    let row = lp.baseAddress! + r * c, g = gp.baseAddress! + r * c
                    let logp = logSoftmax(row, count: c)
                    for j in 0..<c {
                        let q = (j == labels[r] ? 1 - eps : 0) + eps / Double(c)
                        total -= q * logp[j]
                        g[j] = Float((exp(logp[j]) - q) / Double(n))
                    }
                }
            }
        }
        return LossResult(loss: total / Double(n), gradient: grad)
    }
}

/// log softmax of one row in double (max-shifted).
func logSoftmax(_ row: UnsafePointer<Float>, count c: Int, temperature t: Double = 1) -> [Double] {
    var m = -Double.infinity
    for j in 0..<c { m = max(m, Double(row[j]) / t) }
    var s = 0.0
    for j in 0..<c { s += exp(Double(row[j]) / t - m) }
    let lse = m + log(s)
    return (0..<c).map { Double(row[$0]) / t - lse }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
