import Tensors

/// Pointwise activations (Keras names). Softmax runs over the last axis.
public enum Activation: String, ConfigEnum {
    case linear, relu, sigmoid, tanh, softmax, gelu

    /// Applies the activation in place to x viewed as (rows, cols).
    public func apply(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, on executor: Executor) {
        executor.timed(.activation) { applyUntimed(x, rows: rows, cols: cols, on: executor) }
    }

    private func applyUntimed(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, on executor: Executor) {
        switch self {
        case .linear: break
        case .relu: Ops.relu(x, count: rows * cols)
        case .sigmoid: Ops.sigmoid(x, count: rows * cols)
        case .tanh: Ops.tanh(x, count: rows * cols)
        case .softmax: Ops.softmaxRows(x, rows: rows, cols: cols, scale: 1, keyBias: nil)
        case .gelu: Ops.biasGelu(x, bias: nil, rows: rows, cols: cols, on: executor)
        }
    }

    /// Applies bias(cols) then the activation, fusing the two where a kernel exists.
    public func applyWithBias(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, cols: Int, on executor: Executor) {
        executor.timed(.activation) {
            switch self {
            case .relu: Ops.biasRelu(x, bias: bias, rows: rows, cols: cols)
            case .gelu: Ops.biasGelu(x, bias: bias, rows: rows, cols: cols, on: executor)
            default:
                if let bias { Ops.biasAdd(x, bias: bias, rows: rows, cols: cols) }
                applyUntimed(x, rows: rows, cols: cols, on: executor)
            }
        }
    }

    /// y (rows, cols) = act(y + bias), in place; the layer-output step of Linear and Conv2D.
    public func apply(to y: inout Tensor, bias: Tensor?, on executor: Executor) {
        let cols = y.shape.last ?? 1
        y.withUnsafeMutableFloats { yp in
            let rows = yp.count / max(cols, 1)
            if let bias {
                bias.withUnsafeFloats { applyWithBias(yp.baseAddress!, bias: $0.baseAddress!, rows: rows, cols: cols, on: executor) }
            } else {
                apply(yp.baseAddress!, rows: rows, cols: cols, on: executor)
            }
        }
    }
}
