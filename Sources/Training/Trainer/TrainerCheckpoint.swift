import Formats
import Foundation
import Layers
import Tensors

/// What a checkpoint must match to be resumed: the data size, batch, epochs, seed, optimizer and parameter count.
struct TrainerFingerprint: Codable, Equatable {
    var examples: Int
    var batchSize: Int
    var epochs: Int
    var seed: UInt64
    var optimizer: String
    var parameters: Int
    var stepsPerEpoch: Int
}

/// The loop's position and memory: global step, the running epoch's loss sum, the learning curve, the best weights.
struct TrainerState {
    var fingerprint: TrainerFingerprint
    var step = 0
    var epochLossSum = 0.0
    var epochSamples = 0
    var learningRate = 0.0
    var history: [EpochRecord] = []
    var best: (epoch: Int, loss: Double, parameters: [String: Tensor])?
}

/// One safetensors file holds everything a resumed run needs: `param.*` (every parameter, BatchNorm statistics
/// included), `best.*` (the keep-best weights), `opt.*` (optimizer moments or velocity), and metadata with the step,
/// the dropout generator, the partial epoch's loss (as bit patterns, so nothing is rounded) and the learning curve.
/// Written with ``SafeTensors/write(_:metadata:to:)``: a temporary file renamed into place, so a kill mid-write
/// leaves the previous checkpoint.
enum TrainerCheckpoint {
    static func save(_ state: TrainerState, module: Module, optimizer: any CheckpointableOptimizer, context: TrainingContext, to url: URL) throws {
        var tensors: [String: Tensor] = [:]
        for (path, t) in module.namedParameters() { tensors["param." + path] = t }
        if let best = state.best { for (path, t) in best.parameters { tensors["best." + path] = t } }
        let (opt, optSteps) = optimizer.stateTensors()
        for (k, t) in opt { tensors["opt." + k] = t }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var meta = [
            "format": "compress-trainer-checkpoint-1",
            "fingerprint": String(decoding: try encoder.encode(state.fingerprint), as: UTF8.self),
            "step": String(state.step), "optimizer_steps": String(optSteps), "random_state": String(context.randomState),
            "epoch_loss_sum": String(state.epochLossSum.bitPattern), "epoch_samples": String(state.epochSamples),
            "learning_rate": String(state.learningRate.bitPattern),
            "history": String(decoding: try encoder.encode(state.history), as: UTF8.self),
        ]
        if let best = state.best {
            meta["best_epoch"] = String(best.epoch)
            meta["best_loss"] = String(best.loss.bitPattern)
        }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try SafeTensors.write(tensors, metadata: meta, to: url)
    }

    /// Restores the module, optimizer and generator from `url` and returns the loop state; refuses a checkpoint made
    /// with other settings (its fingerprint differs) with a one-line error naming the file.
    static func load(
        _ url: URL, into module: Module, optimizer: any CheckpointableOptimizer, gradients: Gradients, context: TrainingContext,
        fingerprint: TrainerFingerprint
    ) throws -> TrainerState {
        let (tensors, meta) = try SafeTensors.read(url)
        func field(_ key: String) throws -> String {
            guard let v = meta[key] else { throw TrainingError.checkpoint("\(url.path) has no '\(key)' (not a trainer checkpoint?)") }
            return v
        }
        func number<T: FixedWidthInteger>(_ key: String, _ type: T.Type) throws -> T {
            guard let v = T(try field(key)) else { throw TrainingError.checkpoint("\(url.path): '\(key)' is not an integer") }
            return v
        }
        guard meta["format"] == "compress-trainer-checkpoint-1" else {
            throw TrainingError.checkpoint("\(url.path) is not a compress trainer checkpoint")
        }
        let saved = try JSONDecoder().decode(TrainerFingerprint.self, from: Data(try field("fingerprint").utf8))
        guard saved == fingerprint else {
            throw TrainingError.checkpoint(
                "\(url.path) was written by a run with other settings (data size, batch, epochs, seed or optimizer); delete it or drop --resume")
        }
        var state = TrainerState(fingerprint: fingerprint)
        state.step = try number("step", Int.self)
        state.epochSamples = try number("epoch_samples", Int.self)
        state.epochLossSum = Double(bitPattern: try number("epoch_loss_sum", UInt64.self))
        state.learningRate = Double(bitPattern: try number("learning_rate", UInt64.self))
        state.history = try JSONDecoder().decode([EpochRecord].self, from: Data(try field("history").utf8))
        context.randomState = try number("random_state", UInt64.self)
        func parameters(_ prefix: String) -> [String: Tensor] {
            var out: [String: Tensor] = [:]
            for (k, t) in tensors where k.hasPrefix(prefix) { out[String(k.dropFirst(prefix.count))] = t.deepCopy() }
            return out
        }
        do {
            try module.update(parameters: parameters("param."))
            if meta["best_epoch"] != nil {
                state.best = (try number("best_epoch", Int.self), Double(bitPattern: try number("best_loss", UInt64.self)), parameters("best."))
            }
        } catch let e as ModelError {
            throw TrainingError.checkpoint("\(url.path) does not fit the model: \(e)")
        }
        try optimizer.restore(parameters("opt."), steps: try number("optimizer_steps", Int.self), like: gradients)
        return state
    }
}
