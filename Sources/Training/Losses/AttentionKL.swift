import Foundation
import Tensors

/// Attention-distribution distillation (MiniLM, TinyBERT): each student head's attention distribution imitates the
/// teacher's, L = (1/R) Σ_rows Σ_j t_j·(log t_j − log s_j), the KL divergence KL(t ‖ s) averaged over the R rows
/// (every sequence, head and query token).
///
/// The gradient is returned on the student's softmax *inputs* z (s = softmax(z) per row), where it is simply
/// dL/dz = (s − t)/R; on the probabilities it would be −t/(R·s), which overflows where s underflows. The attention
/// backward takes it as `dScores` (``BertSelfAttention/backward(_:tape:x:lengths:starts:dx:dScores:gradients:path:on:)``).
///
/// ```swift
/// let r = try AttentionKL().evaluate(student: tape.attentionProbabilities(layer: 2),
///                                    teacher: teacherTape.attentionProbabilities(layer: 5), lengths: batch.lengths, heads: 12)
/// // r.gradient: dL/dz laid out as the probabilities
/// ```
public struct AttentionKL: Sendable {
    public init() {}

    /// student, teacher: per sequence s (lengths[s] = l), per head, (l, l) row-major probabilities, back to back
    /// (Σ heads·l² floats, the layout of ``BertTape/attentionProbabilities(layer:)``).
    public func evaluate(student: Tensor, teacher: Tensor, lengths: [Int], heads: Int) throws -> LossResult {
        let count = lengths.reduce(0) { $0 + heads * $1 * $1 }
        guard student.count == count, teacher.count == count else {
            throw TrainingError.badInput(
                "attention KL: \(lengths.count) sequences × \(heads) heads need \(count) probabilities, the student has \(student.count), the teacher \(teacher.count)")
        }
        let rows = heads * lengths.reduce(0, +)
        let inv = 1 / Double(rows)
        var gradient = Tensor(uninitialized: [count])
        var total = 0.0
        gradient.withUnsafeMutableFloats { gp in
            student.withUnsafeFloats { sp in
                teacher.withUnsafeFloats { tp in
                    // Rows are contiguous: walk every (l, l) block row by row.
                    var offset = 0
                    for l in lengths {
                        for _ in 0..<(heads * l) {
                            var row = 0.0
                            for j in offset..<(offset + l) {
                                let s = Double(sp[j]), t = Double(tp[j])
                                // t·log t → 0 as t → 0; a student probability that underflowed counts as the
                                // smallest normal float (the loss value only; the gradient needs no log).
                                if t > 0 { row += t * (log(t) - log(max(s, Double(Float.leastNormalMagnitude)))) }
                                gp[j] = Float((s - t) * inv)
                            }
                            total += row
                            offset += l
                        }
                    }
                }
            }
        }
        return LossResult(loss: total * inv, gradient: gradient)
    }
}
