import Layers
import Tensors
import Testing
import Training

/// Each loss's gradient against float64 central differences of the loss itself (every loss sums in double, so a
/// float32 input perturbed by h = 1e-3 gives differences accurate to ~h²), normwise relative error ≤ 1e-4.
struct LossTests {
    /// Central differences of `loss` with respect to each element of `x`.
    func numericGradient(_ x: Tensor, h: Float = 1e-3, _ loss: (Tensor) throws -> Double) rethrows -> [Double] {
        var out: [Double] = []
        for i in 0..<x.count {
            var up = x, down = x
            up.withUnsafeMutableFloats { $0[i] += h }
            down.withUnsafeMutableFloats { $0[i] -= h }
            // The step actually taken in float32.
            let step = Double(up.floats[i]) - Double(down.floats[i])
            out.append((try loss(up) - loss(down)) / step)
        }
        return out
    }

    func expectClose(_ analytic: Tensor, _ numeric: [Double], _ what: String) {
        let e = relativeError(analytic.floats.map(Double.init), numeric)
        #expect(e <= 1e-4, "\(what): relative error \(e)")
    }

    @Test(arguments: [Float(0), 0.1])
    func crossEntropy(smoothing: Float) throws {
        var rng = Rng(1)
        let logits = rng.tensor([5, 4], -3, 3)
        let labels = [0, 3, 1, 1, 2]
        let ce = CrossEntropy(labelSmoothing: smoothing)
        let result = try ce.evaluate(logits: logits, labels: labels)
        expectClose(result.gradient, try numericGradient(logits) { try ce.evaluate(logits: $0, labels: labels).loss }, "CE ε=\(smoothing)")
        // The value, from its definition: −Σ q log p with q = (1−ε)·onehot + ε/C.
        let l = logits.floats.map(Double.init)
        var expected = 0.0
        for r in 0..<5 {
            let row = Array(l[(r * 4)..<(r * 4 + 4)])
            let lse = log(row.map { exp($0) }.reduce(0, +))
            for j in 0..<4 { expected -= ((j == labels[r] ? 1 - Double(smoothing) : 0) + Double(smoothing) / 4) * (row[j] - lse) }
        }
        #expect(abs(result.loss - expected / 5) < 1e-9)
    }

    @Test(arguments: [(Float(1), Float(1)), (2, 0.5), (4, 0.9)])
    func distillation(temperature: Float, alpha: Float) throws {
        var rng = Rng(2)
        let student = rng.tensor([4, 5], -2, 2), teacher = rng.tensor([4, 5], -4, 4)
        let labels = [1, 0, 4, 2]
        let kd = Distillation(temperature: temperature, alpha: alpha, labelSmoothing: 0.05)
        let result = try kd.evaluate(student: student, teacher: teacher, labels: labels)
        expectClose(
            result.gradient, try numericGradient(student) { try kd.evaluate(student: $0, teacher: teacher, labels: labels).loss }, "KD")
        // Identical logits and α = 1: KL is zero.
        #expect(
            abs(try Distillation(temperature: temperature, alpha: 1).evaluate(student: teacher, teacher: teacher, labels: nil).loss) < 1e-12
        )
    }

    /// `alphaEnd`: α moves linearly from `alpha` to `alphaEnd` over the run; at the end (α 0) the loss and gradient
    /// are the labels' cross-entropy alone, at the start the constant-α loss.
    @Test func distillationAlphaSchedule() throws {
        var rng = Rng(4)
        let student = rng.tensor([3, 5], -2, 2), teacher = rng.tensor([3, 5], -4, 4)
        let labels = [2, 0, 4]
        let kd = Distillation(temperature: 4, alpha: 0.9, alphaEnd: 0)
        #expect(abs(kd.scheduled(progress: 0.5).alpha - 0.45) < 1e-7)
        #expect(kd.scheduled(progress: 0).alpha == 0.9 && kd.scheduled(progress: 0).alphaEnd == nil)
        let start = try kd.scheduled(progress: 0).evaluate(student: student, teacher: teacher, labels: labels)
        let constant = try Distillation(temperature: 4, alpha: 0.9).evaluate(student: student, teacher: teacher, labels: labels)
        #expect(start.loss == constant.loss && start.gradient.bitwiseEqual(constant.gradient))
        let end = try kd.scheduled(progress: 1).evaluate(student: student, teacher: teacher, labels: labels)
        let ce = try CrossEntropy().evaluate(logits: student, labels: labels)
        #expect(abs(end.loss - ce.loss) < 1e-12)
        expectClose(end.gradient, ce.gradient.floats.map(Double.init), "α 0 = cross-entropy")
        #expect(Distillation(temperature: 4, alpha: 0.9).scheduled(progress: 0.7).alpha == 0.9)
    }

    @Test func mseAndCosine() throws {
        var rng = Rng(3)
        let s = rng.tensor([3, 6]), t = rng.tensor([3, 6])
        let mse = try MeanSquaredError().evaluate(s, target: t)
        expectClose(mse.gradient, try numericGradient(s) { try MeanSquaredError().evaluate($0, target: t).loss }, "MSE")
        let cos = try CosineEmbeddingLoss().evaluate(s, target: t)
        expectClose(cos.gradient, try numericGradient(s) { try CosineEmbeddingLoss().evaluate($0, target: t).loss }, "cosine")
        #expect(abs(try CosineEmbeddingLoss().evaluate(t, target: t).loss) < 1e-12)
    }

    @Test func hiddenStateMSEThroughALearnedProjection() throws {
        var rng = Rng(4)
        let projection = Linear(name: "projection", inFeatures: 4, outFeatures: 6)
        try randomize(projection, seed: 5)
        let student = rng.tensor([5, 4]), target = rng.tensor([5, 6])
        let ctx = TrainingContext(executor: testExecutor)
        let loss = HiddenStateMSE(projection: projection, projectionPath: "")
        let grads = Gradients(trainableIn: projection)
        let result = try loss.evaluate(student: student, target: target, gradients: grads, context: ctx)
        expectClose(
            result.gradient,
            try numericGradient(student, h: 0.05) { try loss.evaluate(student: $0, target: target, gradients: nil, context: ctx).loss },
            "dstudent")
        // The projection's weight gradient, by differences through the module.
        let w = projection.parameter("weight")
        // The loss is quadratic in the weight and the student, so central differences are exact for any h; a large h
        // keeps the float32 projection's rounding out of the differences.
        let numeric = try numericGradient(w, h: 0.05) { wt in
            try projection.setParameter("weight", wt)
            return try loss.evaluate(student: student, target: target, gradients: nil, context: ctx).loss
        }
        try projection.setParameter("weight", w)
        expectClose(grads.tensor("weight")!, numeric, "dprojection")
        // Without a projection it is plain MSE.
        let same = rng.tensor([5, 6])
        #expect(
            try HiddenStateMSE().evaluate(student: same, target: target, gradients: nil, context: ctx).loss
                == MeanSquaredError().evaluate(same, target: target).loss)
    }
}

#if canImport(Glibc)
import Glibc
#endif
