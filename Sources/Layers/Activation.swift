import Tensors

/// Pointwise activations (Keras names). Softmax runs over the last axis.
public enum Activation: String, Codable, Sendable, CaseIterable {
    case linear, relu, sigmoid, tanh, softmax, gelu

    /// Applies the activation in place to x viewed as (rows, cols).
    public func apply(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        switch self {
        case .linear: break
        case .relu: Ops.relu(x, count: rows * cols)
        case .sigmoid: Ops.sigmoid(x, count: rows * cols)
        case .tanh: Ops.tanh(x, count: rows * cols)
        case .softmax: Ops.softmaxRows(x, rows: rows, cols: cols, scale: 1, keyBias: nil)
        case .gelu: Ops.biasGelu(x, bias: nil, rows: rows, cols: cols)
        }
    }

    /// Applies bias(cols) then the activation, fusing the two where a kernel exists.
    public func applyWithBias(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, cols: Int) {
        switch self {
        case .relu: Ops.biasRelu(x, bias: bias, rows: rows, cols: cols)
        case .gelu: Ops.biasGelu(x, bias: bias, rows: rows, cols: cols)
        default:
            if let bias { Ops.biasAdd(x, bias: bias, rows: rows, cols: cols) }
            apply(x, rows: rows, cols: cols)
        }
    }
}
