import Layers
import Tensors
import Testing
import Training

/// Shapes large enough for the paths small gradient checks never reach, on two threads: row-blocked tall GEMMs
/// (forward and input gradient), the weight-gradient GEMM split by rows (partial sums) and by columns, and the
/// threaded ReLU backward with its fused bias sums. Full finite differences are too slow here, so each gradient is
/// checked along a random direction v against the exact float64 directional derivative of L = Σ r·relu(pre): pre is
/// affine in each of x, weight and bias, so d pre = pre(p + v) − pre(p) exactly, and dL = Σ r·[pre > 0]·d pre (no
/// step size, no ReLU kinks crossed).
struct LargeShapeGradientTests {
    /// Checks ⟨analytic[key], v⟩ against the directional derivative for every key; `pre` is the float64 reference
    /// pre-activation.
    func checkDirections(
        values: [String: [Double]], analytic: [String: [Float]], r: [Double], seed: UInt64, pre: ([String: [Double]]) -> [Double]
    ) {
        var rng = Rng(seed)
        let base = pre(values)
        for key in analytic.keys.sorted() {
            let v = rng.floats(values[key]!.count).map(Double.init)
            var moved = values
            moved[key] = zip(values[key]!, v).map { $0 + $1 }
            let shifted = pre(moved)
            var exact = 0.0
            for i in 0..<base.count where base[i] > 0 { exact += r[i] * (shifted[i] - base[i]) }
            let dot = zip(analytic[key]!, v).reduce(0) { $0 + Double($1.0) * $1.1 }
            let error = abs(dot - exact) / max(abs(exact), 1e-12)
            print("large-shape directional check \(key): ⟨g, v⟩ \(dot) vs \(exact), relative error \(error)")
            #expect(error <= 1e-4, "\(key): ⟨g, v⟩ \(dot) vs directional derivative \(exact)")
        }
    }

    /// Conv2D 4 → 40, 3×3 same, ReLU on 24 images of 16×16: 6,144 patch rows (tall, row-blocked forward and input
    /// gradient), a 40 × 36 weight gradient (too few columns: split by rows into partial sums).
    @Test func convWithReluOnTwoThreads() throws {
        let layer = Conv2D(name: "conv", inChannels: 4, filters: 40, kernelSize: (3, 3), samePadding: true, activation: .relu)
        try randomize(layer, seed: 11)
        var rng = Rng(12)
        let x = rng.tensor([24, 16, 16, 4])
        let ctx = TrainingContext(executor: Executor(threads: 2), dropout: false)
        let (y, tape) = try layer.trainingForward(x, context: ctx)
        let r = rng.floats(y.count).map(Double.init)
        let grads = Gradients(trainableIn: layer)
        let dx = try layer.backward(
            Tensor(shape: y.shape, floats: r.map(Float.init)), tape: tape, gradients: grads, path: "", needInputGradient: true, context: ctx)
        var values = parameters64(layer)
        values["x"] = x.floats.map(Double.init)
        var analytic: [String: [Float]] = ["x": dx!.floats]
        for path in grads.paths { analytic[path] = Array(grads[path]!) }
        let pre = { (v: [String: [Double]]) -> [Double] in
            Ref.conv(v["x"]!, v["weight"]!, v["bias"]!, n: 24, h: 16, wd: 16, c: 4, f: 40, kh: 3, kw: 3, sh: 1, sw: 1, same: true).y
        }
        #expect(relativeError(y.floats.map(Double.init), Ref.activation(.relu, pre(values), cols: 40)) < 1e-5, "forward")
        checkDirections(values: values, analytic: analytic, r: r, seed: 13, pre: pre)
    }

    /// Linear 300 → 64 with ReLU on 600 rows: a 64 × 300 weight gradient split by columns across the threads.
    @Test func linearWithReluOnTwoThreads() throws {
        let layer = Linear(name: "fc", inFeatures: 300, outFeatures: 64, activation: .relu)
        try randomize(layer, seed: 21)
        var rng = Rng(22)
        let x = rng.tensor([600, 300])
        let ctx = TrainingContext(executor: Executor(threads: 2), dropout: false)
        let (y, tape) = try layer.trainingForward(x, context: ctx)
        let r = rng.floats(y.count).map(Double.init)
        let grads = Gradients(trainableIn: layer)
        let dx = try layer.backward(
            Tensor(shape: y.shape, floats: r.map(Float.init)), tape: tape, gradients: grads, path: "", needInputGradient: true, context: ctx)
        var values = parameters64(layer)
        values["x"] = x.floats.map(Double.init)
        var analytic: [String: [Float]] = ["x": dx!.floats]
        for path in grads.paths { analytic[path] = Array(grads[path]!) }
        let pre = { (v: [String: [Double]]) -> [Double] in Ref.linear(v["x"]!, v["weight"]!, v["bias"]!, rows: 600, k: 300, n: 64) }
        #expect(relativeError(y.floats.map(Double.init), Ref.activation(.relu, pre(values), cols: 64)) < 1e-5, "forward")
        checkDirections(values: values, analytic: analytic, r: r, seed: 23, pre: pre)
    }
}
