import Formats
import Foundation
import Layers
import Tensors
import Testing
import Training

/// The trainer loop: bitwise reproducibility, resume after a kill, keep-best, NaN stop, distillation objectives.
struct TrainerTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The first 400 digits (train.h5) for training, 200 more for validation.
    static func digits() throws -> (x: Tensor, y: [Int], vx: Tensor, vy: [Int]) {
        let file = try HDF5File(readingFrom: repo.appendingPathComponent("datasets/digits/train.h5"))
        let x = try file.dataset("/x").toFloat32(), y = try file.dataset("/y").int64s.map { Int($0) }
        return (x.rows(0..<400), Array(y[0..<400]), x.rows(400..<600), Array(y[400..<600]))
    }

    /// 64 → dropout → 32 (relu) → 10, seeded weights (dropout exercises the checkpointed generator).
    static func mlp(seed: UInt64 = 1) throws -> SequentialModel {
        let model = try SequentialModel(
            inputShape: [8, 8, 1],
            layers: [
                Flatten(name: "flatten"), Dropout(name: "drop", rate: 0.1),
                Linear(name: "fc1", inFeatures: 64, outFeatures: 32, activation: .relu),
                Linear(name: "fc2", inFeatures: 32, outFeatures: 10, activation: .softmax),
            ])
        // PyTorch's Linear init scale (±1/√fan-in, zero biases): GradientCheck's ±0.6 on every parameter leaves
        // this setup at ~0.58 accuracy after 3 epochs (tools/trainer_test_budget.py, a float64 numpy reference).
        var rng = Rng(seed)
        var initial: [String: Tensor] = [:]
        for (path, t) in model.namedParameters() {
            let bound = 1 / Double(t.shape.last!).squareRoot()
            initial[path] = t.rank == 2 ? rng.tensor(t.shape, -bound, bound) : Tensor(zeros: t.shape)
        }
        try model.update(parameters: initial)
        return model
    }

    static func objective(_ model: SequentialModel) throws -> ClassifierObjective {
        let d = try digits()
        return try ClassifierObjective(
            model: model, inputs: d.x, labels: d.y, validationInputs: d.vx, validationLabels: d.vy, labelSmoothing: 0.05,
            executor: testExecutor)
    }

    static func options(seed: UInt64 = 7, checkpoint: URL? = nil) -> TrainerOptions {
        TrainerOptions(
            optimizer: OptimizerSettings(kind: .adamw, learningRate: 0.03, weightDecay: 0.01, warmup: 0.1, schedule: .cosine, clipNorm: 5),
            epochs: 3, batchSize: 32, seed: seed, checkpoint: checkpoint, checkpointEvery: 10)
    }

    static func parameters(_ m: Module) -> [String: Tensor] { Dictionary(uniqueKeysWithValues: m.namedParameters()) }

    static func bitwiseEqual(_ a: [String: Tensor], _ b: [String: Tensor]) -> Bool {
        a.keys == b.keys && a.allSatisfy { b[$0.key]!.bitwiseEqual($0.value) }
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trainer-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Same seed and threads → the same weights bit for bit; another seed → other weights. The model learns
    /// (validation accuracy above 0.8 after 3 epochs on 400 digits) and the curve has one entry per epoch.
    @Test func sameSeedSameThreadsIsBitwiseIdentical() throws {
        let a = try Self.mlp(), b = try Self.mlp(), c = try Self.mlp()
        let ra = try Trainer(options: Self.options()).fit(try Self.objective(a), executor: testExecutor)
        _ = try Trainer(options: Self.options()).fit(try Self.objective(b), executor: testExecutor)
        _ = try Trainer(options: Self.options(seed: 8)).fit(try Self.objective(c), executor: testExecutor)
        #expect(Self.bitwiseEqual(Self.parameters(a), Self.parameters(b)))
        #expect(!Self.bitwiseEqual(Self.parameters(a), Self.parameters(c)))
        #expect(ra.history.count == 3)
        #expect((ra.history.map { $0.validationMetric ?? 0 }.max() ?? 0) > 0.8, "\(ra.history)")
        #expect(ra.history.first!.trainLoss > ra.history.last!.trainLoss)
    }

    /// A run stopped after step 25 (checkpoints every 10 steps and at epoch ends: the last one is step 20) and resumed
    /// ends with bitwise the same weights, best epoch and learning curve as an uninterrupted run.
    @Test func resumedRunEndsBitwiseEqualToAnUninterruptedOne() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let full = try Self.mlp()
        let reference = try Trainer(options: Self.options(checkpoint: dir.appendingPathComponent("a.ckpt"))).fit(
            try Self.objective(full), executor: testExecutor)

        let ckpt = dir.appendingPathComponent("b.ckpt")
        let killed = try Self.mlp()
        let first = Trainer(options: Self.options(checkpoint: ckpt))
        first.stopAfterStep = 25
        #expect(throws: TrainerStopped(step: 25)) { try first.fit(try Self.objective(killed), executor: testExecutor) }
        #expect(FileManager.default.fileExists(atPath: ckpt.path))
        // No temporary files left next to the checkpoint.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["a.ckpt", "b.ckpt"])

        let resumedModel = try Self.mlp(seed: 99)  // whatever it holds is replaced by the checkpoint
        var options = Self.options(checkpoint: ckpt)
        options.resume = true
        let resumed = try Trainer(options: options).fit(try Self.objective(resumedModel), executor: testExecutor)
        #expect(resumed.resumedAtStep == 20)
        #expect(Self.bitwiseEqual(Self.parameters(full), Self.parameters(resumedModel)))
        // The curves agree except for the measured speed.
        func curve(_ r: TrainingResult) -> [[Double]] {
            r.history.map { [Double($0.epoch), $0.trainLoss, $0.validationLoss, $0.validationMetric ?? -1, $0.learningRate] }
        }
        #expect(curve(resumed) == curve(reference))
        #expect(resumed.bestEpoch == reference.bestEpoch)

        // A checkpoint of other settings is refused with a one-line error naming the file.
        var other = Self.options(seed: 3, checkpoint: ckpt)
        other.resume = true
        let error = #expect(throws: TrainingError.self) { try Trainer(options: other).fit(try Self.objective(try Self.mlp()), executor: testExecutor) }
        #expect(error?.description.contains(ckpt.path) == true)
        #expect(error?.description.contains("\n") == false)
    }

    /// A NaN loss at step 17 (epoch 2 of 13 steps each) stops the run with an error naming the step, and the model
    /// keeps the weights of epoch 1, the best (and only) validated epoch; the checkpoint holds them too.
    @Test func nanLossStopsAndKeepsTheBestEpoch() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try Self.mlp()
        let inner = try Self.objective(model)
        var steps = 0
        var afterEpochOne: [String: Tensor] = [:]
        let objective = ClosureObjective(
            module: model, count: inner.trainingCount,
            step: { indices, grads, ctx in
                steps += 1
                return steps == 17 ? .nan : try inner.step(indices: indices, gradients: grads, context: ctx)
            },
            validate: { executor in
                afterEpochOne = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.0, Tensor(shape: $0.1.shape, floats: $0.1.floats)) })
                return try inner.validate(executor: executor)
            })
        let trainer = Trainer(options: Self.options(checkpoint: dir.appendingPathComponent("run.ckpt")))
        var hookSteps: [Int] = []
        trainer.afterStep = { step, _ in hookSteps.append(step) }
        let error = #expect(throws: TrainingError.self) { try trainer.fit(objective, executor: testExecutor) }
        #expect(error?.description.contains("loss is nan at step 17 (epoch 2)") == true, "\(String(describing: error))")
        #expect(error?.description.contains("keeps epoch 1") == true)
        #expect(Self.bitwiseEqual(Self.parameters(model), afterEpochOne))
        #expect(hookSteps == Array(1...16))
        let saved = try SafeTensors.read(dir.appendingPathComponent("run.ckpt")).tensors
        #expect(saved["best.fc1.weight"]!.bitwiseEqual(afterEpochOne["fc1.weight"]!))
    }

    /// The trainer tells objectives how far the run is: `runProgress` = steps taken / total steps, before each step
    /// (13 steps per epoch × 3 epochs here).
    @Test func runProgressIsStepsTakenOverTotal() throws {
        let model = try Self.mlp()
        let inner = try Self.objective(model)
        var seen: [Double] = []
        let objective = ClosureObjective(
            module: model, count: inner.trainingCount,
            step: { indices, grads, ctx in
                seen.append(ctx.runProgress)
                return try inner.step(indices: indices, gradients: grads, context: ctx)
            },
            validate: { try inner.validate(executor: $0) })
        _ = try Trainer(options: Self.options()).fit(objective, executor: testExecutor)
        #expect(seen == (0..<39).map { Double($0) / 39 })
    }

    /// Distillation through the trainer: a student trained on a teacher's cached logits gets closer to the teacher
    /// (validation KL-based loss falls), and a tiny training set is refused.
    @Test func classifierDistillationAndTinyData() throws {
        let teacher = try Self.mlp(seed: 3)
        _ = try Trainer(options: Self.options()).fit(try Self.objective(teacher), executor: testExecutor)
        let d = try Self.digits()
        let student = try Self.mlp(seed: 5)
        let objective = try ClassifierObjective(
            model: student, inputs: d.x, labels: d.y, validationInputs: d.vx, validationLabels: d.vy, teacher: teacher,
            distillation: Distillation(temperature: 2, alpha: 0.7), executor: testExecutor)
        #expect(objective.teacherLogits?.shape == [400, 10])
        let r = try Trainer(options: Self.options()).fit(objective, executor: testExecutor)
        #expect((r.history.last?.validationMetric ?? 0) > 0.8)
        let one = try ClassifierObjective(
            model: student, inputs: d.x.rows(0..<1), labels: [d.y[0]], validationInputs: d.vx, validationLabels: d.vy,
            executor: testExecutor)
        #expect(throws: TrainingError.self) { try Trainer(options: Self.options()).fit(one, executor: testExecutor) }
    }

    /// A random 3-layer BERT teacher (hidden 16, vocab 40) and the config of a 2-layer student of the same width.
    static func tinyTeacher() throws -> (teacher: BertModel, student: BertConfig) {
        let config = BertConfig(
            vocabSize: 40, hiddenSize: 16, numHiddenLayers: 3, numAttentionHeads: 2, intermediateSize: 24, maxPositionEmbeddings: 16,
            layerNormEps: 1e-5)
        let teacher = try BertModel(config: config, withPooler: false)
        try randomize(teacher, seed: 11)
        var student = config
        student.numHiddenLayers = 2
        return (teacher, student)
    }

    /// A 2-layer student made from a 3-layer teacher's layers 0 and 2 (same width): embedding cosine + MSE and a
    /// hidden-state loss; validation cosine to the teacher rises. A layer map outside the student is refused.
    @Test func sentenceDistillationImprovesCosine() throws {
        let (teacher, sc) = try Self.tinyTeacher()
        let student = try BertModel(config: sc, withPooler: false)
        var params = Self.parameters(teacher)
        params = params.filter { !$0.key.hasPrefix("encoder.layer.1.") }
        for (k, v) in params where k.hasPrefix("encoder.layer.2.") {
            params["encoder.layer.1." + k.dropFirst("encoder.layer.2.".count)] = v
            params[k] = nil
        }
        try student.update(parameters: params)
        var rng = Rng(4)
        let seqs: [[Int32]] = (0..<96).map { _ in (0..<(3 + Int(rng.next() % 8))).map { _ in Int32(rng.next() % 40) } }
        let loss = SentenceDistillLoss(mse: 1, cosine: 1, layerMap: [(0, 1), (1, 2)], hiddenWeight: 0.1)
        let objective = try SentenceDistillObjective(
            student: student, teacher: teacher, sequences: Array(seqs[0..<64]), validationSequences: Array(seqs[64...]), loss: loss,
            executor: testExecutor)
        let before = try objective.validate(executor: testExecutor)
        var o = Self.options()
        o.optimizer.learningRate = 3e-3
        o.batchSize = 8
        let r = try Trainer(options: o).fit(objective, executor: testExecutor)
        #expect(r.bestValidationLoss < before.loss)
        #expect((r.history.map { $0.validationMetric ?? 0 }.max() ?? 0) > before.metric!)
        let bad = SentenceDistillLoss(layerMap: [(2, 2)], hiddenWeight: 1)
        let error = #expect(throws: TrainingError.self) {
            try SentenceDistillObjective(
                student: student, teacher: teacher, sequences: seqs, validationSequences: seqs, loss: bad, executor: testExecutor)
        }
        #expect(error?.description.contains("loss.hidden.layer_map: student layer 2 is out of range") == true)

        // A student wider than the teacher cannot be compared state to state without a projection.
        var wide = sc
        wide.hiddenSize = 24
        wide.intermediateSize = 32
        let wider = try BertModel(config: wide, withPooler: false)
        let widthError = #expect(throws: TrainingError.self) {
            try SentenceDistillObjective(
                student: wider, teacher: teacher, sequences: seqs, validationSequences: seqs,
                loss: SentenceDistillLoss(layerMap: [(0, 0)], hiddenWeight: 1), executor: testExecutor)
        }
        #expect(widthError?.description.contains("needs equal widths: the student's hidden size is 24, the teacher's 16") == true)
    }

    /// MiniLM's attention-distribution KL as the only loss: one step's value is the mean KL of the mapped layers'
    /// heads (zero for a student that is the teacher's own layers at the same depth), training lowers it on held-out
    /// sentences, and maps outside the models or between different head counts are refused with the field named.
    @Test func sentenceDistillationWithAttentionKL() throws {
        let (teacher, sc) = try Self.tinyTeacher()
        var rng = Rng(6)
        let seqs: [[Int32]] = (0..<72).map { _ in (0..<(3 + Int(rng.next() % 8))).map { _ in Int32(rng.next() % 40) } }
        let only = SentenceDistillLoss(mse: 0, cosine: 0, attentionMap: [(0, 0), (1, 1)], attentionWeight: 1)
        // The teacher's first two layers as the student: identical attention, KL 0 (up to rounding).
        let same = try BertModel(config: sc, withPooler: false)
        try same.update(parameters: Self.parameters(teacher).filter { !$0.key.hasPrefix("encoder.layer.2.") })
        let identical = try SentenceDistillObjective(
            student: same, teacher: teacher, sequences: seqs, validationSequences: seqs, loss: only, executor: testExecutor)
        let zero = try identical.step(
            indices: [0, 5, 9], gradients: Gradients(trainableIn: same, where: identical.trains),
            context: TrainingContext(executor: testExecutor))
        #expect(abs(zero) <= 1e-6)

        let student = try BertModel(config: sc, withPooler: false)
        try randomize(student, seed: 13)
        let objective = try SentenceDistillObjective(
            student: student, teacher: teacher, sequences: Array(seqs[0..<64]), validationSequences: Array(seqs[64...]), loss: only,
            executor: testExecutor)
        let probe = try SentenceDistillObjective(
            student: student, teacher: teacher, sequences: Array(seqs[64...]), validationSequences: Array(seqs[64...]), loss: only,
            executor: testExecutor)
        func heldOutKL() throws -> Double {
            try probe.step(
                indices: Array(0..<8), gradients: Gradients(trainableIn: student, where: probe.trains),
                context: TrainingContext(executor: testExecutor))
        }
        let before = try heldOutKL()
        var o = Self.options()
        o.optimizer.learningRate = 3e-3
        o.batchSize = 8
        _ = try Trainer(options: o).fit(objective, executor: testExecutor)
        let after = try heldOutKL()
        #expect(before > 0.05)
        #expect(after < 0.85 * before, "held-out attention KL \(before) → \(after)")

        let outside = #expect(throws: TrainingError.self) {
            try SentenceDistillObjective(
                student: student, teacher: teacher, sequences: seqs, validationSequences: seqs,
                loss: SentenceDistillLoss(attentionMap: [(1, 3)], attentionWeight: 1), executor: testExecutor)
        }
        #expect(outside?.description.contains("loss.attention.layer_map: teacher layer 3 is out of range") == true)
        var fourHeads = sc
        fourHeads.numAttentionHeads = 4
        let other = try BertModel(config: fourHeads, withPooler: false)
        let heads = #expect(throws: TrainingError.self) {
            try SentenceDistillObjective(
                student: other, teacher: teacher, sequences: seqs, validationSequences: seqs,
                loss: SentenceDistillLoss(attentionMap: [(0, 0)], attentionWeight: 1), executor: testExecutor)
        }
        #expect(heads?.description.contains("needs equal head counts: student layer 0 has 4 heads, teacher layer 0 has 2") == true)
    }

    /// Teacher targets cached up front and targets from one teacher forward per batch are the same targets: a step
    /// gives the same loss and gradients either way (the per-batch path is what large training sets use).
    @Test func sentenceDistillationTargetsCachedOrPerBatchAgree() throws {
        let (teacher, sc) = try Self.tinyTeacher()
        let student = try BertModel(config: sc, withPooler: false)
        try randomize(student, seed: 12)
        var rng = Rng(5)
        let seqs: [[Int32]] = (0..<80).map { _ in (0..<(3 + Int(rng.next() % 8))).map { _ in Int32(rng.next() % 40) } }
        let loss = SentenceDistillLoss(mse: 1, cosine: 1, layerMap: [(0, 1), (1, 2)], hiddenWeight: 0.5)
        func step(budget: Int) throws -> (Double, [String: [Float]]) {
            let o = try SentenceDistillObjective(
                student: student, teacher: teacher, sequences: Array(seqs[0..<70]), validationSequences: Array(seqs[70...]), loss: loss,
                cacheBudgetBytes: budget, executor: testExecutor)
            let grads = Gradients(trainableIn: student, where: o.trains)
            let value = try o.step(indices: [3, 67, 0, 12, 41], gradients: grads, context: TrainingContext(executor: testExecutor))
            return (value, Dictionary(uniqueKeysWithValues: grads.paths.map { ($0, Array(grads[$0]!)) }))
        }
        let (cached, cachedGrads) = try step(budget: 1 << 30)
        let (perBatch, perBatchGrads) = try step(budget: 0)
        #expect(cached > 0)
        #expect(abs(cached - perBatch) <= 1e-6 * cached)
        #expect(cachedGrads.keys == perBatchGrads.keys)
        for (path, g) in cachedGrads {
            let h = perBatchGrads[path]!
            let scale = max(g.map { abs($0) }.max() ?? 0, 1e-12)
            let diff = zip(g, h).map { abs($0 - $1) }.max() ?? 0
            #expect(diff <= 1e-5 * scale, "\(path): max |Δ| \(diff) against max |g| \(scale)")
        }
    }
}
