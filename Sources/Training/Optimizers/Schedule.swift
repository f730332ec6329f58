import Foundation

/// Learning rate per step: linear warmup from 0 to `peak` over `warmupSteps`, then cosine or linear decay to
/// `peak · minimumRatio` at `totalSteps` (Hugging Face's `get_cosine_schedule_with_warmup` /
/// `get_linear_schedule_with_warmup` when minimumRatio is 0).
public struct LearningRateSchedule: Sendable {
    public enum Decay: String, Sendable, Codable { case cosine, linear, constant }
    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var decay: Decay
    public var minimumRatio: Float

    public init(peak: Float, warmupSteps: Int = 0, totalSteps: Int, decay: Decay = .cosine, minimumRatio: Float = 0) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.decay = decay
        self.minimumRatio = minimumRatio
    }

    /// The rate for 0-based `step`.
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step) / Float(max(1, warmupSteps)) }
        let progress = min(1, Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps)))
        let factor: Double
        switch decay {
        case .constant: factor = 1
        case .linear: factor = 1 - progress
        case .cosine: factor = 0.5 * (1 + cos(Double.pi * progress))
        }
        let floor = Double(minimumRatio)
        return peak * Float(floor + (1 - floor) * factor)
    }
}

/// Global-norm gradient clipping (`torch.nn.utils.clip_grad_norm_`).
public enum GradientClipping {
    /// Scales every gradient by min(1, maxNorm / (‖g‖ + 1e-6)), ‖g‖ the L2 norm over all of them. Returns ‖g‖
    /// before clipping (a NaN or inf here means the step must be skipped).
    @discardableResult
    public static func clipGlobalNorm(_ gradients: Gradients, maxNorm: Float) -> Double {
        let all = gradients.all
        var ss = 0.0
        for g in all { ss += Double(g) * Double(g) }
        let norm = ss.squareRoot()
        let scale = Double(maxNorm) / (norm + 1e-6)
        if scale < 1 {
            let s = Float(scale)
            for i in 0..<all.count { all[i] *= s }
        }
        return norm
    }
}
