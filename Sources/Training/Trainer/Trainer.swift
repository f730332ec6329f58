import Console
import Foundation
import Layers
import Tensors

/// Mini-batch training of a ``TrainingObjective``: seeded shuffling, SGD-momentum or AdamW with warmup and
/// cosine/linear decay, global-norm clipping, validation after every epoch, keep-best weights, atomic checkpoints
/// and `resume` after a kill.
///
/// Determinism: the order of epoch `e` is a Fisher–Yates shuffle driven by SplitMix64 seeded from (seed, e); dropout
/// draws from the context's generator, whose state is checkpointed. With the same seed and thread count a run is
/// bitwise reproducible, and a run resumed from a checkpoint ends with the same weights as one never interrupted.
///
/// ```swift
/// let trainer = Trainer(options: TrainerOptions(optimizer: .init(kind: .adamw, learningRate: 1e-3), epochs: 3))
/// trainer.afterStep = { step, module in try masks.apply(to: module) }   // pruning keeps its zeros
/// let result = try trainer.fit(objective, executor: executor)          // the model now holds its best epoch
/// ```
public final class Trainer {
    public let options: TrainerOptions
    /// Progress lines on stderr (loss, samples/s, ETA) and a bar per epoch.
    public var progress: ProgressReporter
    /// Called after every optimizer step with the 1-based global step (pruning re-applies its masks here).
    public var afterStep: ((_ step: Int, _ module: Module) throws -> Void)?
    /// For tests: throw ``TrainerStopped`` right after this global step, as a kill would (checkpoints stay as written).
    public var stopAfterStep: Int?

    public init(options: TrainerOptions, progress: ProgressReporter = .silent) {
        self.options = options
        self.progress = progress
    }

    /// Trains `objective.module` in place and leaves it holding the weights of the epoch with the lowest validation loss.
    public func fit(_ objective: TrainingObjective, executor: Executor) throws -> TrainingResult {
        let o = options
        let n = objective.trainingCount
        guard o.epochs >= 1 else { throw TrainingError.badInput("epochs must be ≥ 1, got \(o.epochs)") }
        guard o.batchSize >= 1 else { throw TrainingError.badInput("batch_size must be ≥ 1, got \(o.batchSize)") }
        guard n >= 2 else { throw TrainingError.badInput("the training set has \(n) examples; at least 2 are needed") }
        let module = objective.module
        let stepsPerEpoch = (n + o.batchSize - 1) / o.batchSize
        let totalSteps = stepsPerEpoch * o.epochs
        let schedule = o.optimizer.schedule(totalSteps: totalSteps)
        let optimizer = o.optimizer.makeOptimizer()
        let gradients = Gradients(trainableIn: module, where: objective.trains)
        let context = TrainingContext(executor: executor, mode: .train, seed: o.seed ^ 0x5EED_D809_0F7A_1E55)
        var state = TrainerState(fingerprint: fingerprint(n: n, gradients: gradients))
        var resumedAt: Int?
        if o.resume, let url = o.checkpoint, FileManager.default.fileExists(atPath: url.path) {
            state = try TrainerCheckpoint.load(
                url, into: module, optimizer: optimizer, gradients: gradients, context: context, fingerprint: state.fingerprint)
            resumedAt = state.step
            progress.message("\(o.label): resumed from \(url.lastPathComponent) at step \(state.step)/\(totalSteps)")
        }
        let started = monotonicSeconds()
        let stepAtStart = state.step
        while state.step < totalSteps {
            let epoch = state.step / stepsPerEpoch
            let order = Self.shuffled(n, seed: o.seed, epoch: epoch)
            let epochStart = monotonicSeconds()
            var epochSamples = 0
            try progress.task("\(o.label) epoch \(epoch + 1)/\(o.epochs)", total: stepsPerEpoch) { bar in
                bar.advance(by: state.step - epoch * stepsPerEpoch)
                while state.step < (epoch + 1) * stepsPerEpoch {
                    let s = state.step - epoch * stepsPerEpoch
                    let indices = Array(order[(s * o.batchSize)..<min(n, (s + 1) * o.batchSize)])
                    gradients.zero()
                    context.runProgress = Double(state.step) / Double(totalSteps)
                    let loss = try objective.step(indices: indices, gradients: gradients, context: context)
                    guard loss.isFinite else { try diverged("loss is \(loss)", state: state, module: module) }
                    if let clip = o.optimizer.clipNorm {
                        let norm = GradientClipping.clipGlobalNorm(gradients, maxNorm: clip)
                        guard norm.isFinite else { try diverged("gradient norm is \(norm)", state: state, module: module) }
                    }
                    let rate = schedule.rate(at: state.step)
                    try optimizer.step(module, gradients: gradients, learningRate: rate)
                    state.step += 1
                    state.epochLossSum += loss * Double(indices.count)
                    state.epochSamples += indices.count
                    state.learningRate = Double(rate)
                    epochSamples += indices.count
                    try afterStep?(state.step, module)
                    bar.advance()
                    if state.step % max(1, stepsPerEpoch / 5) == 0 {
                        let elapsed = monotonicSeconds() - started
                        let perStep = elapsed / Double(state.step - stepAtStart)
                        progress.message(
                            "\(o.label) epoch \(epoch + 1)/\(o.epochs) step \(state.step)/\(totalSteps) loss "
                                + String(format: "%.5f", state.epochLossSum / Double(max(state.epochSamples, 1)))
                                + String(format: " lr %.3g %.1f samples/s", rate, Double(epochSamples) / (monotonicSeconds() - epochStart))
                                + " ETA \(ProgressFormat.duration(perStep * Double(totalSteps - state.step)))")
                    }
                    let endOfEpoch = state.step == (epoch + 1) * stepsPerEpoch
                    if endOfEpoch { try finishEpoch(epoch, objective: objective, executor: executor, state: &state, samples: epochSamples, seconds: monotonicSeconds() - epochStart) }
                    if let url = o.checkpoint, endOfEpoch || (o.checkpointEvery.map { state.step % $0 == 0 } ?? false) {
                        try TrainerCheckpoint.save(state, module: module, optimizer: optimizer, context: context, to: url)
                    }
                    if let stop = stopAfterStep, state.step == stop { throw TrainerStopped(step: stop) }
                }
            }
        }
        if let best = state.best { try module.update(parameters: best.parameters) }
        return TrainingResult(
            history: state.history, bestEpoch: state.best?.epoch ?? state.history.count,
            bestValidationLoss: state.best?.loss ?? .nan, steps: totalSteps, resumedAtStep: resumedAt)
    }

    /// Validation, the learning-curve entry, keep-best.
    private func finishEpoch(
        _ epoch: Int, objective: TrainingObjective, executor: Executor, state: inout TrainerState, samples: Int, seconds: Double
    ) throws {
        let v = try objective.validate(executor: executor)
        let record = EpochRecord(
            epoch: epoch + 1, trainLoss: state.epochLossSum / Double(max(state.epochSamples, 1)), validationLoss: v.loss,
            validationMetric: v.metric, learningRate: state.learningRate, samplesPerSecond: Double(samples) / max(seconds, 1e-9))
        state.history.append(record)
        state.epochLossSum = 0
        state.epochSamples = 0
        progress.message(
            "\(options.label) epoch \(epoch + 1)/\(options.epochs): train loss \(String(format: "%.5f", record.trainLoss)), validation loss "
                + String(format: "%.5f", v.loss) + (v.metric.map { String(format: ", metric %.4f", $0) } ?? ""))
        guard v.loss.isFinite else {
            try diverged("validation loss is \(v.loss) after epoch \(epoch + 1)", state: state, module: objective.module)
        }
        if epoch + 1 >= options.keepBestFromEpoch, v.loss < (state.best?.loss ?? .infinity) {
            // A deep copy: optimizers may update parameter storage in place.
            var snapshot: [String: Tensor] = [:]
            for (path, t) in objective.module.namedParameters() { snapshot[path] = t.deepCopy() }
            state.best = (epoch + 1, v.loss, snapshot)
        }
    }

    /// Restores the best weights (when an epoch finished) and throws a one-line error naming the step.
    private func diverged(_ what: String, state: TrainerState, module: Module) throws -> Never {
        if let best = state.best { try module.update(parameters: best.parameters) }
        var message = "\(what) at step \(state.step + 1) (epoch \(state.step / max(1, stepsPerEpochHint(state)) + 1)); training stopped"
        if let best = state.best {
            message += ", the model keeps epoch \(best.epoch) (validation loss \(String(format: "%.5f", best.loss)))"
            if let url = options.checkpoint { message += ", saved in \(url.path)" }
        }
        throw TrainingError.nonFinite(message)
    }

    private func stepsPerEpochHint(_ state: TrainerState) -> Int { state.fingerprint.stepsPerEpoch }

    /// What a checkpoint must agree with to be resumed.
    private func fingerprint(n: Int, gradients: Gradients) -> TrainerFingerprint {
        TrainerFingerprint(
            examples: n, batchSize: options.batchSize, epochs: options.epochs, seed: options.seed, optimizer: options.optimizer.summary,
            parameters: gradients.paths.count, stepsPerEpoch: (n + options.batchSize - 1) / options.batchSize)
    }

    /// The example order of `epoch`: Fisher–Yates over 0..<n with SplitMix64 seeded from (seed, epoch).
    public static func shuffled(_ n: Int, seed: UInt64, epoch: Int) -> [Int] {
        var order = Array(0..<n)
        var rng = SplitMix64(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(epoch + 1))
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
        }
        return order
    }
}

/// Thrown by ``Trainer/stopAfterStep``, as if the process had been killed after that step.
public struct TrainerStopped: Error, Equatable {
    public let step: Int
    public init(step: Int) { self.step = step }
}

/// The SplitMix64 generator (Steele et al.): tiny, fast, and the same on every platform.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Tensor {
    /// A copy with its own storage.
    func deepCopy() -> Tensor {
        let storage = TensorStorage(uninitializedByteCount: byteCount)
        withUnsafeBytes { src in if src.count > 0 { storage.pointer.copyMemory(from: src.baseAddress!, byteCount: src.count) } }
        return Tensor(shape: shape, dtype: dtype, storage: storage)
    }
}
