import Layers
import Tensors
import Testing
import Training

/// Every Sequential layer kind: analytic gradients (inputs and parameters) against float64 central differences of a
/// float64 reference forward, normwise relative error ≤ ``gradientTolerance`` (1e-4). The forward is also checked
/// against the reference (1e-5 relative).
struct LayerGradientTests {
    /// Runs `layer`'s training forward on x, its backward with dy = r, and checks against `reference`.
    func check(
        _ layer: any TrainableLayer, x: Tensor, mode: TrainingContext.Mode = .train, seed: UInt64 = 9,
        reference: ([String: [Double]]) -> [Double]
    ) throws {
        let ctx = TrainingContext(executor: testExecutor, mode: mode, batchNormMomentum: 0.9, dropout: false)
        var values = parameters64(layer)
        values["x"] = x.floats.map(Double.init)
        let (y, tape) = try layer.trainingForward(x, context: ctx)
        let yRef = reference(values)
        #expect(relativeError(y.floats.map(Double.init), yRef) < 1e-5, "forward of \(layer.name)")
        var rng = Rng(seed)
        let r = rng.floats(y.count).map(Double.init)
        let grads = Gradients(trainableIn: layer)
        let dx = try layer.backward(
            Tensor(shape: y.shape, floats: r.map(Float.init)), tape: tape, gradients: grads, path: "", needInputGradient: true, context: ctx
        )
        var analytic: [String: [Float]] = ["x": dx!.floats]
        for path in grads.paths { analytic[path] = Array(grads[path]!) }
        let (key, error) = worst(
            gradientErrors(values: values, r: r, analytic: analytic, reference: reference), "\(layer.typeName) \(layer.summary)")
        #expect(error <= gradientTolerance, "\(layer.name): gradient of \(key) off by \(error)")
    }

    @Test(arguments: Activation.allCases)
    func linear(activation: Activation) throws {
        let layer = Linear(name: "fc", inFeatures: 6, outFeatures: 5, activation: activation)
        try randomize(layer, seed: 1)
        var rng = Rng(2)
        try check(layer, x: rng.tensor([4, 6])) { v in
            Ref.activation(activation, Ref.linear(v["x"]!, v["weight"]!, v["bias"]!, rows: 4, k: 6, n: 5), cols: 5)
        }
    }

    @Test(arguments: [(1, true), (2, true), (1, false), (2, false)])
    func conv2D(stride: Int, same: Bool) throws {
        let layer = Conv2D(
            name: "conv", inChannels: 2, filters: 3, kernelSize: (3, 2), strides: (stride, stride), samePadding: same, activation: .tanh)
        try randomize(layer, seed: 3)
        var rng = Rng(4)
        try check(layer, x: rng.tensor([2, 5, 4, 2])) { v in
            let (y, _, _) = Ref.conv(
                v["x"]!, v["weight"]!, v["bias"]!, n: 2, h: 5, wd: 4, c: 2, f: 3, kh: 3, kw: 2, sh: stride, sw: stride, same: same)
            return Ref.activation(.tanh, y, cols: 3)
        }
    }

    @Test(arguments: [TrainingContext.Mode.train, .eval])
    func batchNorm(mode: TrainingContext.Mode) throws {
        let layer = BatchNorm(name: "bn", features: 3, epsilon: 1e-3)
        try randomize(layer, seed: 5)
        var rng = Rng(6)
        let x = rng.tensor([2, 2, 3, 3], -2, 2)
        let m0 = layer.parameter("mean").floats
        try check(layer, x: x, mode: mode) { v in
            Ref.batchNorm(
                v["x"]!, gamma: v["gamma"]!, beta: v["beta"]!, mean: v["mean"]!, variance: v["variance"]!, eps: 1e-3, features: 3,
                train: mode == .train)
        }
        if mode == .train {
            // Running mean moved 10 % (momentum 0.9) toward the batch mean.
            let xs = x.floats
            for j in 0..<3 {
                let batch = stride(from: j, to: xs.count, by: 3).map { Double(xs[$0]) }.reduce(0, +) / Double(xs.count / 3)
                #expect(abs(Double(layer.parameter("mean").floats[j]) - (0.9 * Double(m0[j]) + 0.1 * batch)) < 1e-6)
            }
        } else {
            #expect(layer.parameter("mean").floats == m0)
        }
    }

    @Test(arguments: [Pool2D.Kind.max, .average], [true, false])
    func pool2D(kind: Pool2D.Kind, same: Bool) throws {
        let layer = Pool2D(name: "pool", kind: kind, poolSize: (2, 2), strides: (2, 2), samePadding: same)
        var rng = Rng(7)
        try check(layer, x: rng.tensor([2, 5, 5, 2])) { v in
            Ref.pool(v["x"]!, max: kind == .max, n: 2, h: 5, w: 5, c: 2, ph: 2, pw: 2, sh: 2, sw: 2, same: same)
        }
    }

    @Test func globalAveragePoolFlattenAndActivationLayers() throws {
        var rng = Rng(8)
        let x = rng.tensor([2, 3, 2, 4])
        try check(GlobalAvgPool2D(name: "gap"), x: x) { v in
            let xs = v["x"]!
            var y = [Double](repeating: 0, count: 8)  // (2, 4): mean over the 3×2 cells
            for b in 0..<2 { for p in 0..<6 { for c in 0..<4 { y[b * 4 + c] += xs[(b * 6 + p) * 4 + c] / 6 } } }
            return y
        }
        try check(Flatten(name: "flatten"), x: x) { v in v["x"]! }
        for a in Activation.allCases {
            try check(ActivationLayer(name: "act", activation: a), x: x) { v in Ref.activation(a, v["x"]!, cols: 4) }
        }
    }

    @Test func dropoutScalesKeptUnitsAndRoutesGradientThroughTheSameMask() throws {
        let layer = Dropout(name: "drop", rate: 0.25)
        let ctx = TrainingContext(executor: testExecutor, seed: 3)
        let x = Tensor(shape: [40, 50], floats: [Float](repeating: 1, count: 2000))
        let (y, tape) = try layer.trainingForward(x, context: ctx)
        let kept = y.floats.filter { $0 != 0 }
        #expect(kept.allSatisfy { abs($0 - 1 / 0.75) < 1e-6 })
        #expect(abs(Double(kept.count) / 2000 - 0.75) < 0.05)
        let dx = try layer.backward(x, tape: tape, gradients: Gradients(shapes: []), path: "", needInputGradient: true, context: ctx)!
        #expect(dx.floats == y.floats)
        ctx.mode = .eval
        #expect(try layer.trainingForward(x, context: ctx).y.floats == x.floats)
    }

    @Test func sequentialModelChainsEveryLayer() throws {
        // conv → BN → relu → max pool → flatten → dense(tanh) → dense(softmax): the model's backward returns logits'
        // gradients for the parameters of every layer; checked as one function of all parameters and the input.
        let model = try SequentialModel(
            inputShape: [4, 4, 1],
            layers: [
                Conv2D(name: "conv", inChannels: 1, filters: 2, kernelSize: (3, 3), samePadding: true),
                BatchNorm(name: "bn", features: 2, epsilon: 1e-3),
                ActivationLayer(name: "relu", activation: .relu),
                Pool2D(name: "pool", kind: .max, poolSize: (2, 2), strides: (2, 2), samePadding: false),
                Flatten(name: "flatten"),
                Linear(name: "fc1", inFeatures: 8, outFeatures: 5, activation: .tanh),
                Linear(name: "fc2", inFeatures: 5, outFeatures: 3, activation: .softmax),
            ])
        try randomize(model, seed: 11)
        var rng = Rng(12)
        let x = rng.tensor([3, 4, 4, 1])
        let ctx = TrainingContext(executor: testExecutor, dropout: false)
        let (logits, tape) = try model.trainingForward(x, context: ctx)
        #expect(logits.shape == [3, 3])
        let r = rng.floats(9).map(Double.init)
        let grads = Gradients(trainableIn: model)
        #expect(grads.paths == ["conv.weight", "conv.bias", "bn.gamma", "bn.beta", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        try model.backward(Tensor(shape: [3, 3], floats: r.map(Float.init)), tape: tape, gradients: grads, context: ctx)
        var values = parameters64(model)
        values["x"] = x.floats.map(Double.init)
        let reference = { (v: [String: [Double]]) -> [Double] in
            let (c, _, _) = Ref.conv(
                v["x"]!, v["conv.weight"]!, v["conv.bias"]!, n: 3, h: 4, wd: 4, c: 1, f: 2, kh: 3, kw: 3, sh: 1, sw: 1, same: true)
            let b = Ref.batchNorm(
                c, gamma: v["bn.gamma"]!, beta: v["bn.beta"]!, mean: v["bn.mean"]!, variance: v["bn.variance"]!, eps: 1e-3, features: 2,
                train: true)
            let p = Ref.pool(b.map { max($0, 0) }, max: true, n: 3, h: 4, w: 4, c: 2, ph: 2, pw: 2, sh: 2, sw: 2, same: false)
            let h1 = Ref.activation(.tanh, Ref.linear(p, v["fc1.weight"]!, v["fc1.bias"]!, rows: 3, k: 8, n: 5), cols: 5)
            return Ref.linear(h1, v["fc2.weight"]!, v["fc2.bias"]!, rows: 3, k: 5, n: 3)
        }
        #expect(relativeError(logits.floats.map(Double.init), reference(values)) < 1e-5)
        var analytic: [String: [Float]] = [:]
        for path in grads.paths { analytic[path] = Array(grads[path]!) }
        let (key, error) = worst(gradientErrors(values: values, r: r, analytic: analytic, reference: reference))
        #expect(error <= gradientTolerance, "gradient of \(key) off by \(error)")
    }
}
