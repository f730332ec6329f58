import Tensors

/// An optimizer whose state (moments, velocity, step count) can be saved in a checkpoint and restored, so a resumed
/// run continues with bitwise the same updates as an uninterrupted one.
public protocol CheckpointableOptimizer: Optimizer {
    /// State tensors keyed `<buffer>.<parameter path>` (`m.fc1.weight`), and the optimizer's step count.
    func stateTensors() -> (tensors: [String: Tensor], steps: Int)
    /// Restores what ``stateTensors()`` returned; `like` gives the parameter paths and shapes (the gradients).
    func restore(_ tensors: [String: Tensor], steps: Int, like gradients: Gradients) throws
}

extension ParameterBuffers {
    /// Each buffer as a tensor named `prefix.path`.
    func tensors(prefix: String) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for path in paths { out[prefix + "." + path] = tensor(path)! }
        return out
    }

    /// Copies `prefix.path` tensors into the buffers; every path must be present with its shape.
    func load(_ tensors: [String: Tensor], prefix: String) throws {
        for path in paths {
            guard let t = tensors[prefix + "." + path], t.shape == shapes[path]!, t.dtype == .float32 else {
                throw TrainingError.checkpoint("optimizer state '\(prefix).\(path)' is missing or has another shape")
            }
            let dst = self[path]!
            t.withUnsafeFloats { src in _ = dst.update(fromContentsOf: src) }
        }
    }
}

extension SGD: CheckpointableOptimizer {
    public func stateTensors() -> (tensors: [String: Tensor], steps: Int) { (velocity?.tensors(prefix: "velocity") ?? [:], 0) }

    public func restore(_ tensors: [String: Tensor], steps: Int, like gradients: Gradients) throws {
        guard tensors.keys.contains(where: { $0.hasPrefix("velocity.") }) else { velocity = nil; return }
        let v = gradients.zerosLike()
        try v.load(tensors, prefix: "velocity")
        velocity = v
    }
}

extension AdamW: CheckpointableOptimizer {
    public func stateTensors() -> (tensors: [String: Tensor], steps: Int) {
        guard let moments else { return ([:], stepCount) }
        let (m, v) = moments
        return (m.tensors(prefix: "m").merging(v.tensors(prefix: "v")) { a, _ in a }, stepCount)
    }

    public func restore(_ tensors: [String: Tensor], steps: Int, like gradients: Gradients) throws {
        stepCount = steps
        guard steps > 0 else { moments = nil; return }
        let m = gradients.zerosLike(), v = gradients.zerosLike()
        try m.load(tensors, prefix: "m")
        try v.load(tensors, prefix: "v")
        moments = (m, v)
    }
}
