import Formats
import Foundation
import Layers
import Tensors
import Testing
import Training

/// Optimizers, schedule and clipping against their formulas, and a small MLP that learns the digits.
struct OptimizerTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A Linear (3 → 2) with gradients g_t = sin(t + i): AdamW over 5 steps against the update written out in
    /// float64 here (PyTorch's AdamW: p ← p·(1 − lr·λ) − lr·m̂/(√v̂ + ε)), with the bias excluded from decay.
    @Test func adamWMatchesTheFormulasInFloat64() throws {
        let layer = Linear(name: "fc", inFeatures: 3, outFeatures: 2)
        try randomize(layer, seed: 1)
        let (lr, b1, b2, eps, wd) = (0.05, 0.9, 0.999, 1e-8, 0.1)
        let adam = AdamW(beta1: Float(b1), beta2: Float(b2), epsilon: Float(eps), weightDecay: Float(wd))
        let grads = Gradients(trainableIn: layer)
        var p = parameters64(layer)
        var m = p.mapValues { $0.map { _ in 0.0 } }, v = m
        for t in 1...5 {
            grads.zero()
            for path in grads.paths {
                let g = grads[path]!
                for i in 0..<g.count { g[i] = Float(sin(Double(t) + Double(i)) * (path == "bias" ? 3 : 1)) }
            }
            try adam.step(layer, gradients: grads, learningRate: Float(lr))
            for path in grads.paths {
                let decay = path == "weight" ? wd : 0
                for i in 0..<p[path]!.count {
                    let g = Double(Float(sin(Double(t) + Double(i)) * (path == "bias" ? 3 : 1)))
                    m[path]![i] = b1 * m[path]![i] + (1 - b1) * g
                    v[path]![i] = b2 * v[path]![i] + (1 - b2) * g * g
                    let mhat = m[path]![i] / (1 - pow(b1, Double(t))), vhat = v[path]![i] / (1 - pow(b2, Double(t)))
                    p[path]![i] = p[path]![i] * (1 - lr * decay) - lr * mhat / (vhat.squareRoot() + eps)
                }
            }
        }
        #expect(adam.stepCount == 5)
        for (path, expected) in p {
            let got = layer.parameter(path).floats.map(Double.init)
            #expect(relativeError(got, expected) < 1e-6, "\(path)")
        }
    }

    @Test func sgdWithMomentum() throws {
        let layer = Linear(name: "fc", inFeatures: 2, outFeatures: 1, useBias: false)
        try layer.setParameter("weight", Tensor(shape: [1, 2], floats: [1, -1]))
        let grads = Gradients(trainableIn: layer)
        let sgd = SGD(momentum: 0.5)
        for _ in 0..<3 {
            grads["weight"]![0] = 1
            grads["weight"]![1] = 2
            try sgd.step(layer, gradients: grads, learningRate: 0.1)
        }
        // v: 1, 1.5, 1.75 (and twice that): w = 1 − 0.1·4.25, −1 − 0.1·8.5.
        let w = layer.parameter("weight").floats
        #expect(abs(w[0] - 0.575) < 1e-6 && abs(w[1] + 1.85) < 1e-6)
    }

    @Test func weightDecayRuleSkipsBiasesAndNorms() {
        let rule = WeightDecayRule.matricesOnly
        #expect(rule.decays("encoder.layer.0.intermediate.dense.weight", [64, 32]))
        #expect(rule.decays("embeddings.word_embeddings.weight", [100, 32]))
        #expect(!rule.decays("encoder.layer.0.intermediate.dense.bias", [64]))
        #expect(!rule.decays("encoder.layer.0.output.LayerNorm.weight", [32]))
        #expect(!rule.decays("bn1.gamma", [16]))
    }

    @Test func warmupThenCosineAndLinearDecay() {
        let cosine = LearningRateSchedule(peak: 1, warmupSteps: 10, totalSteps: 110, decay: .cosine, minimumRatio: 0.1)
        #expect(cosine.rate(at: 0) == 0)
        #expect(abs(cosine.rate(at: 5) - 0.5) < 1e-7)
        #expect(cosine.rate(at: 10) == 1)
        #expect(abs(cosine.rate(at: 60) - 0.55) < 1e-6)  // halfway: 0.1 + 0.9·0.5
        #expect(abs(cosine.rate(at: 110) - 0.1) < 1e-7)
        let linear = LearningRateSchedule(peak: 2, warmupSteps: 0, totalSteps: 100, decay: .linear)
        #expect(abs(linear.rate(at: 25) - 1.5) < 1e-6)
        #expect(linear.rate(at: 200) == 0)
    }

    @Test func globalNormClipping() {
        let grads = Gradients(shapes: [("a", [2]), ("b", [1])])
        grads["a"]![0] = 3
        grads["a"]![1] = 0
        grads["b"]![0] = 4
        #expect(GradientClipping.clipGlobalNorm(grads, maxNorm: 10) == 5)  // below the bound: untouched
        #expect(grads["b"]![0] == 4)
        #expect(GradientClipping.clipGlobalNorm(grads, maxNorm: 1) == 5)
        #expect(abs(grads["a"]![0] - 0.6) < 1e-6 && abs(grads["b"]![0] - 0.8) < 1e-6)
    }

    /// 64 → 32 (relu) → 10 on the digits: five epochs of AdamW with warmup + cosine decay, batch 32, seeded shuffling.
    /// The training loss must fall every epoch and the held-out accuracy rise above 0.9 (it reaches ~0.95).
    @Test func mlpLearnsTheDigits() throws {
        let train = try HDF5File(readingFrom: Self.repo.appendingPathComponent("datasets/digits/train.h5"))
        let test = try HDF5File(readingFrom: Self.repo.appendingPathComponent("datasets/digits/test.h5"))
        let x = try train.dataset("/x").floats, y = try train.dataset("/y").int64s.map { Int($0) }
        let xt = try test.dataset("/x"), yt = try test.dataset("/y").int64s.map { Int($0) }
        let n = y.count
        let model = try SequentialModel(
            inputShape: [8, 8, 1],
            layers: [
                Flatten(name: "flatten"), Linear(name: "fc1", inFeatures: 64, outFeatures: 32, activation: .relu),
                Linear(name: "fc2", inFeatures: 32, outFeatures: 10, activation: .softmax),
            ])
        var rng = Rng(1)
        var init0: [String: Tensor] = [:]
        for (path, t) in model.namedParameters() {
            let fanIn = Double(t.shape.last!)
            init0[path] = t.rank == 2 ? rng.tensor(t.shape, -1 / fanIn.squareRoot(), 1 / fanIn.squareRoot()) : Tensor(zeros: t.shape)
        }
        try model.update(parameters: init0)
        func accuracy() throws -> Double {
            let probs = try model.forward(xt, on: testExecutor).floats
            var correct = 0
            for i in 0..<yt.count {
                let row = probs[(i * 10)..<(i * 10 + 10)]
                if row.firstIndex(of: row.max()!)! - i * 10 == yt[i] { correct += 1 }
            }
            return Double(correct) / Double(yt.count)
        }
        let before = try accuracy()
        let ctx = TrainingContext(executor: testExecutor)
        let grads = Gradients(trainableIn: model)
        let adam = AdamW(weightDecay: 0.01)
        let batch = 32, epochs = 5, perEpoch = n / batch
        let schedule = LearningRateSchedule(peak: 0.01, warmupSteps: perEpoch / 2, totalSteps: epochs * perEpoch)
        var order = Array(0..<n)
        var epochLoss: [Double] = []
        var step = 0
        for _ in 0..<epochs {
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var total = 0.0
            for b in 0..<perEpoch {
                let idx = order[(b * batch)..<((b + 1) * batch)]
                let xb = Tensor(shape: [batch, 8, 8, 1], floats: idx.flatMap { x[($0 * 64)..<($0 * 64 + 64)] })
                grads.zero()
                let (logits, tape) = try model.trainingForward(xb, context: ctx)
                let loss = try CrossEntropy(labelSmoothing: 0.05).evaluate(logits: logits, labels: idx.map { y[$0] })
                try model.backward(loss.gradient, tape: tape, gradients: grads, context: ctx)
                GradientClipping.clipGlobalNorm(grads, maxNorm: 5)
                try adam.step(model, gradients: grads, learningRate: schedule.rate(at: step))
                step += 1
                total += loss.loss
            }
            epochLoss.append(total / Double(perEpoch))
        }
        let after = try accuracy()
        #expect(zip(epochLoss, epochLoss.dropFirst()).allSatisfy { $0 > $1 }, "epoch losses \(epochLoss)")
        #expect(after > 0.9, "test accuracy \(before) → \(after)")
    }
}
