import Tensors

/// Hinton knowledge distillation on logits:
///   L = α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(s, y)
/// with KL summed over classes and averaged over the batch. The T² keeps the soft term's gradient scale independent
/// of T: dL/ds = α·T·(softmax(s/T) − softmax(t/T)) / N + (1 − α)·dCE/ds.
/// With α = 1 no labels are needed (pass nil).
///
/// `alphaEnd` lets α move linearly over the run (``scheduled(progress:)``): with `alphaEnd = 0` the soft term fades
/// out and the run ends on the labels alone (early-stopped KD, Cho & Hariharan 2019: a student far smaller than its
/// teacher gains from the teacher early and loses from matching it late).
public struct Distillation: Sendable {
    public var temperature: Float
    public var alpha: Float
    /// α at the end of the run (nil: α throughout).
    public var alphaEnd: Float?
    public var hard: CrossEntropy
    public init(temperature: Float = 2, alpha: Float = 0.5, alphaEnd: Float? = nil, labelSmoothing: Float = 0) {
        self.temperature = temperature
        self.alpha = alpha
        self.alphaEnd = alphaEnd
        hard = CrossEntropy(labelSmoothing: labelSmoothing)
    }

    /// The loss at `progress` (0 at the first step, 1 at the end; ``TrainingContext/runProgress``): α interpolated
    /// linearly from `alpha` to `alphaEnd`.
    public func scheduled(progress: Double) -> Distillation {
        guard let alphaEnd else { return self }
        var d = self
        let p = Float(min(max(progress, 0), 1))
        d.alpha = alpha + (alphaEnd - alpha) * p
        d.alphaEnd = nil
        return d
    }

    /// student, teacher: (N, C) logits; labels: N class indices (required when α < 1).
    public func evaluate(student: Tensor, teacher: Tensor, labels: [Int]?) throws -> LossResult {
        guard student.shape == teacher.shape else {
            throw TrainingError.badInput("student logits \(student.shape) vs teacher \(teacher.shape)")
        }
        let c = student.shape.last!, n = student.count / c
        let t = Double(temperature), a = Double(alpha)
        var grad = Tensor(uninitialized: student.shape)
        var kl = 0.0
        grad.withUnsafeMutableFloats { gp in
            student.withUnsafeFloats { sp in
                teacher.withUnsafeFloats { tp in
                    for r in 0..<n {
                        let ls = logSoftmax(sp.baseAddress! + r * c, count: c, temperature: t)
                        let lt = logSoftmax(tp.baseAddress! + r * c, count: c, temperature: t)
                        for j in 0..<c {
                            let pt = exp(lt[j])
                            kl += pt * (lt[j] - ls[j])
                            gp[r * c + j] = Float(a * t * (exp(ls[j]) - pt) / Double(n))
                        }
                    }
                }
            }
        }
        var loss = a * t * t * kl / Double(n)
        if alpha < 1 {
            guard let labels else { throw TrainingError.badInput("distillation with alpha < 1 needs labels") }
            let ce = try hard.evaluate(logits: student, labels: labels)
            loss += (1 - a) * ce.loss
            grad.withUnsafeMutableFloats { gp in
                ce.gradient.withUnsafeFloats { cp in for i in 0..<gp.count { gp[i] += Float(1 - a) * cp[i] } }
            }
        }
        return LossResult(loss: loss, gradient: grad)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
