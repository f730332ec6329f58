import Layers
import Tensors

/// Stands in for a Linear (or a Conv2D, whose GEMM input is its im2col patches) during calibration: records what
/// flows into the GEMM, then runs the module unchanged.
/// Keeps whatever the quantizer asked for: an activation histogram (static ranges), per-channel |x| max
/// (SmoothQuant), the GPTQ Hessian, and a sample of input rows (AWQ).
final class CalibrationRecorder: Layer, LinearOperator {
    let inner: Layer
    let path: String
    let inFeatures: Int
    let outFeatures: Int
    var observer: ActivationCalibration.Observer?
    var channelAbsMax: [Float]?
    var hessian: GPTQ.HessianAccumulator?
    /// Input rows kept for AWQ's search (first rows seen, up to `maxSamples`).
    var samples: [Float] = []
    var maxSamples = 0
    /// Divide inputs by this before observing (static ranges measured after smoothing).
    var observeScale: [Float]?
    /// First non-finite input seen, for the error message.
    var sawNonFinite = false

    init(wrapping inner: Layer, path: String) {
        self.inner = inner
        self.path = path
        switch inner {
        case let l as Linear: (inFeatures, outFeatures) = (l.inFeatures, l.outFeatures)
        case let c as Conv2D: (inFeatures, outFeatures) = (c.geometry.patch, c.filters)
        default: preconditionFailure("calibration wraps Linear or Conv2D, not \(inner.typeName)")
        }
        super.init(name: inner.name)
    }

    var biasTensor: Tensor? { (inner as? Linear)?.biasTensor }
    override var spec: LayerSpec { inner.spec }
    override func outputShape(for input: [Int]) throws -> [Int] { try inner.outputShape(for: input) }

    private func record(_ x: UnsafePointer<Float>, rows: Int) {
        let k = inFeatures, n = rows * k
        for i in 0..<n where !x[i].isFinite { sawNonFinite = true; break }
        if sawNonFinite { return }
        if channelAbsMax != nil {
            for r in 0..<rows { for j in 0..<k { channelAbsMax![j] = max(channelAbsMax![j], abs(x[r * k + j])) } }
        }
        if hessian != nil { hessian!.add(x, rows: rows) }
        if samples.count < maxSamples * k {
            let take = min(rows, maxSamples - samples.count / k)
            samples.append(contentsOf: UnsafeBufferPointer(start: x, count: take * k))
        }
        if observer != nil {
            if let s = observeScale {
                var scaled = [Float](repeating: 0, count: n)
                for r in 0..<rows { for j in 0..<k { scaled[r * k + j] = x[r * k + j] / s[j] } }
                scaled.withUnsafeBufferPointer { observer!.observe($0) }
            } else {
                observer!.observe(UnsafeBufferPointer(start: x, count: n))
            }
        }
    }

    func matmul(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, on executor: Executor) {
        record(x, rows: rows)
        (inner as! Linear).matmul(x, rows: rows, into: y, on: executor)
    }

    override func forward(_ x: Tensor, on executor: Executor) throws -> Tensor {
        let gemmInput = try (inner as? Conv2D)?.im2col(x).cols ?? x.toFloat32()
        gemmInput.withUnsafeFloats { record($0.baseAddress!, rows: gemmInput.count / inFeatures) }
        return try inner.forward(x, on: executor)
    }
}
