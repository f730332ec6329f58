import Tensors

/// Anything that computes `y = x · Wᵀ` for a (out, in) weight: fp32 ``Linear`` now, quantized linears later.
/// Bias and activation stay outside so callers can fuse them with the next kernel.
public protocol LinearOperator: Module {
    var inFeatures: Int { get }
    var outFeatures: Int { get }
    /// Bias (outFeatures), or nil.
    var biasTensor: Tensor? { get }
    /// y(rows, outFeatures) = x(rows, inFeatures) · Wᵀ, overwriting y.
    func matmul(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, on executor: Executor)
}
