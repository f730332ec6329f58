// Training-step throughput (forward + backward + AdamW) for the two reference shapes. Not part of the default
// build (STYLE rule 11): COMPRESS_BENCHMARKS=1 swift build -c release --product TrainingBench, then
// .build/release/TrainingBench [--threads N] [--steps N] [--models cnn,minilm] [--json]. tools/bench_training_peers.py
// runs it beside PyTorch and JAX (`make bench-training`).
import Foundation
import Layers
import Tensors
import Training

/// `--name value` from the command line, or `fallback`.
func option(_ name: String, _ fallback: String) -> String {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: "--" + name), i + 1 < args.count else { return fallback }
    return args[i + 1]
}
guard let threads = Int(option("threads", "1")), threads >= 1, let steps = Int(option("steps", "10")), steps >= 1 else {
    FileHandle.standardError.write("usage: TrainingBench [--threads N] [--steps N] [--models cnn,minilm] [--json]\n".data(using: .utf8)!)
    exit(2)
}
let models = Set(option("models", "cnn,minilm").split(separator: ",").map(String.init))
let json = CommandLine.arguments.contains("--json")

/// One result line: human-readable, or one JSON object per model for tools/bench_training_peers.py.
func report(model: String, batch: Int, seconds: Double) {
    let ms = String(format: "%.3f", seconds * 1e3), rate = String(format: "%.2f", Double(batch) / seconds)
    if json {
        print(
            "{\"framework\": \"ours\", \"model\": \"\(model)\", \"threads\": \(threads), \"batch\": \(batch), "
                + "\"median_step_ms\": \(ms), \"samples_per_s\": \(rate), \"steps\": \(steps)}")
    } else {
        print("\(model) batch \(batch) threads \(threads): \(ms) ms/step, \(rate) samples/s")
    }
}
let executor = Executor(threads: threads)
Executor.setBLASThreads(threads)

/// Uniform values in (−scale, scale) from a 64-bit LCG advanced in `seed`.
func random(_ shape: [Int], scale: Float, seed: inout UInt64) -> Tensor {
    var s = seed
    let floats = (0..<shape.reduce(1, *)).map { _ in
        s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return scale * (Float(s >> 40) / Float(1 << 24) * 2 - 1)
    }
    seed = s
    return Tensor(shape: shape, floats: floats)
}

func initialize(_ model: Module, seed: inout UInt64) throws {
    var params: [String: Tensor] = [:]
    for (path, t) in model.namedParameters() {
        let fanIn = Float(t.shape.dropFirst().reduce(1, *))
        params[path] =
            t.rank >= 2
            ? random(t.shape, scale: 1 / fanIn.squareRoot(), seed: &seed)
            : path.hasSuffix("weight") ? Tensor(shape: t.shape, floats: .init(repeating: 1, count: t.count)) : Tensor(zeros: t.shape)
    }
    try model.update(parameters: params)
}

/// Median seconds of `steps` runs of `step` after three warm-up runs (as the peers in tools/).
func time(_ step: () throws -> Void) rethrows -> Double {
    for _ in 0..<3 { try step() }
    var times: [Double] = []
    for _ in 0..<steps {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try step()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return times.sorted()[times.count / 2]
}

// Fashion-MNIST CNN: conv32-pool-conv64-pool-dense128-dense10 on 28×28×1, batch 128.
if models.contains("cnn") {
    let cnn = try SequentialModel(
        inputShape: [28, 28, 1],
        layers: [
            Conv2D(name: "conv1", inChannels: 1, filters: 32, kernelSize: (3, 3), samePadding: true, activation: .relu),
            Pool2D(name: "pool1", kind: .max, poolSize: (2, 2), strides: (2, 2), samePadding: false),
            Conv2D(name: "conv2", inChannels: 32, filters: 64, kernelSize: (3, 3), samePadding: true, activation: .relu),
            Pool2D(name: "pool2", kind: .max, poolSize: (2, 2), strides: (2, 2), samePadding: false),
            Flatten(name: "flatten"),
            Linear(name: "fc1", inFeatures: 3136, outFeatures: 128, activation: .relu),
            Linear(name: "fc2", inFeatures: 128, outFeatures: 10, activation: .softmax),
        ])
    var seed: UInt64 = 1
    try initialize(cnn, seed: &seed)
    let batch = 128
    let x = random([batch, 28, 28, 1], scale: 1, seed: &seed), labels = (0..<batch).map { $0 % 10 }
    let ctx = TrainingContext(executor: executor)
    let grads = Gradients(trainableIn: cnn)
    let adam = AdamW(executor: executor)
    let seconds = try time {
        grads.zero()
        let (logits, tape) = try cnn.trainingForward(x, context: ctx)
        let loss = try CrossEntropy().evaluate(logits: logits, labels: labels)
        try cnn.backward(loss.gradient, tape: tape, gradients: grads, context: ctx)
        try adam.step(cnn, gradients: grads, learningRate: 1e-3)
    }
    report(model: "cnn", batch: batch, seconds: seconds)
}

// MiniLM-L3-shaped student: hidden 384, 12 heads, FFN 1536, vocab 30522; batch 32 × 24 tokens; embedding MSE loss.
if models.contains("minilm") {
    let config = BertConfig(vocabSize: 30522, hiddenSize: 384, numHiddenLayers: 3, numAttentionHeads: 12, intermediateSize: 1536)
    let bert = try BertModel(config: config, withPooler: false)
    var seed: UInt64 = 2
    try initialize(bert, seed: &seed)
    let lengths = [Int](repeating: 24, count: 32)
    let ids = (0..<(32 * 24)).map { Int32(($0 * 7919) % 30522) }
    let target = random([32, 384], scale: 0.05, seed: &seed)
    let ctx = TrainingContext(executor: executor)
    let grads = Gradients(trainableIn: bert)
    let adam = AdamW(executor: executor)
    let input = PackedSequences(ids: ids, lengths: lengths)
    let seconds = try time {
        grads.zero()
        let (hidden, tape) = try bert.trainingForward(input, context: ctx)
        let pooled = MeanPooling.forward(hidden, lengths: lengths)
        let (e, norms) = L2Normalize.forward(pooled)
        let loss = try MeanSquaredError().evaluate(e, target: target)
        try bert.backward(
            MeanPooling.backward(L2Normalize.backward(loss.gradient, y: e, norms: norms), lengths: lengths), tape: tape, gradients: grads,
            context: ctx)
        try adam.step(bert, gradients: grads, learningRate: 1e-4)
    }
    report(model: "minilm", batch: 32, seconds: seconds)
}
