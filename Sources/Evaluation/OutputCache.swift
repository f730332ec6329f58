import Tensors

/// Outputs of one model that does not change, per evaluation data spec, computed once and reused.
///
/// A recipe compares every stage against its unchanged source model; on 8,709 sentences one pass of the
/// 6-layer MiniLM takes ~40 s on the 2-core host, and `minilm-distill-l3` used to run it five times. The caller
/// owns the promise that the model behind a cache is never modified (the stages only give one to the source model).
public final class OutputCache {
    private var outputs: [String: Tensor] = [:]

    public init() {}

    /// The outputs on `spec`, from `compute` the first time.
    func outputs(for spec: String, _ compute: () throws -> Tensor) rethrows -> Tensor {
        if let known = outputs[spec] { return known }
        let fresh = try compute()
        outputs[spec] = fresh
        return fresh
    }

    /// Specs whose outputs are known (for tests and progress messages).
    public var specs: [String] { outputs.keys.sorted() }
}
