import Tensors

/// LayerNorm over the last axis: weight (dim), bias (dim).
public final class LayerNorm: Module {
    public let dim: Int
    public let eps: Float
    public init(dim: Int, eps: Float) {
        self.dim = dim
        self.eps = eps
        super.init()
        declareParameter("weight", shape: [dim])
        declareParameter("bias", shape: [dim])
    }
    public override var summary: String { "\(dim), eps \(eps)" }

    /// x(rows, dim) = LN(x + bias + residual), in place.
    public func apply(
        _ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, rows: Int, on executor: Executor
    ) {
        executor.timed(.normalization) {
            parameter("weight").withUnsafeFloats { g in
                parameter("bias").withUnsafeFloats { b in
                    Ops.addLayerNorm(
                        x, residual: residual, bias: bias, gamma: g.baseAddress!, beta: b.baseAddress!, eps: eps, rows: rows, cols: dim,
                        on: executor)
                }
            }
        }
    }
}
