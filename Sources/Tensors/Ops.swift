import CKernels

/// Float32 elementwise and row kernels over raw buffers, dispatched to CKernels (AVX-512 / AVX2 / scalar).
/// Shapes are given as (rows, cols), row-major. Large inputs are split across the threads of the ``Executor`` passed in.
public enum Ops {
    /// Rows per parallel chunk below which splitting costs more than it saves (a row is ~cols floats).
    @usableFromInline static func minRows(_ cols: Int) -> Int { max(1, 16_384 / max(cols, 1)) }

    /// x(rows, cols) = gelu_erf(x + bias), in place.
    public static func biasGelu(
        _ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, cols: Int, on executor: Executor
    ) {
        executor.parallelChunks(rows, minimumPerChunk: minRows(cols)) { r in
            ck_bias_gelu_f32(x + r.lowerBound * cols, bias, r.count, cols)
        }
    }

    /// x(rows, cols) = relu(x + bias), in place.
    public static func biasRelu(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, cols: Int) {
        ck_bias_relu_f32(x, bias, rows, cols)
    }

    /// x(rows, cols) += bias(cols), in place.
    public static func biasAdd(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, cols: Int) {
        ck_bias_add_f32(x, bias, rows, cols)
    }

    /// x = sigmoid(x), in place over `count` elements.
    public static func sigmoid(_ x: UnsafeMutablePointer<Float>, count: Int) { ck_sigmoid_f32(x, count) }
    /// x = tanh(x), in place.
    public static func tanh(_ x: UnsafeMutablePointer<Float>, count: Int) { ck_tanh_f32(x, count) }
    /// x = max(x, 0), in place.
    public static func relu(_ x: UnsafeMutablePointer<Float>, count: Int) { ck_relu_f32(x, count) }

    /// x(rows, cols) = LayerNorm(x + bias + residual) · gamma + beta, per row, in place.
    public static func addLayerNorm(
        _ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float, rows: Int, cols: Int, on executor: Executor
    ) {
        executor.parallelChunks(rows, minimumPerChunk: minRows(cols)) { r in
            let off = r.lowerBound * cols
            ck_add_layernorm_f32(x + off, residual.map { $0 + off }, bias, gamma, beta, eps, r.count, cols)
        }
    }

    /// x(rows, cols) = softmax(scale · x + keyBias) per row, in place. keyBias(cols) may be nil.
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, scale: Float, keyBias: UnsafePointer<Float>?) {
        ck_softmax_rows_f32(x, rows, cols, scale, keyBias)
    }
}
