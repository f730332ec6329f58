import Foundation
import Tensors

/// AWQ (Lin et al., 2023): weight channels that meet large activations matter most, so scale them up before
/// quantizing (`W' = W·diag(s)`, `x' = x/s`). s = mean|x|^α, normalized; α is searched on a grid to minimize the
/// layer's output error on calibration inputs.
public enum AWQ {
    /// Returns per-input scales, the chosen α and the output MSE with them.
    /// - inputs: (samples, in) calibration rows of this layer.
    public static func searchScales(
        _ w: Tensor, inputs: Tensor, bits: Int, groupSize: Int, symmetric: Bool = true, grid: Int = 20
    ) throws -> (scales: [Float], alpha: Float, error: Double) {
        let (out, cols) = (w.shape[0], w.shape[1])
        let samples = inputs.shape[0]
        guard samples > 0 else { throw CompressionError.calibration("AWQ needs calibration inputs") }
        var meanAbs = [Double](repeating: 0, count: cols)
        inputs.withUnsafeFloats { xp in for i in 0..<samples { for j in 0..<cols { meanAbs[j] += Double(abs(xp[i * cols + j])) } } }
        let reference = MatMul.linear(inputs, weight: w)  // (samples, out)
        var best: (scales: [Float], alpha: Float, error: Double)?
        for step in 0..<max(1, grid) {
            let alpha = Float(step) / Float(max(1, grid))
            var s = meanAbs.map { Float(pow(max($0 / Double(samples), 1e-8), Double(alpha))) }
            let norm = (s.max()! * s.min()!).squareRoot()
            s = s.map { max($0 / norm, 1e-4) }
            var scaled = w
            scaled.withUnsafeMutableFloats { wp in for r in 0..<out { for j in 0..<cols { wp[r * cols + j] *= s[j] } } }
            let q = try RTN.quantize(scaled, bits: bits, groupSize: groupSize, symmetric: symmetric).dequantized()
            var x = inputs
            x.withUnsafeMutableFloats { xp in for i in 0..<samples { for j in 0..<cols { xp[i * cols + j] /= s[j] } } }
            let approx = MatMul.linear(x, weight: q)
            var err = 0.0
            reference.withUnsafeFloats { rp in
                approx.withUnsafeFloats { ap in
                    for i in 0..<rp.count { let d = Double(rp[i] - ap[i]); err += d * d }
                }
            }
            err /= Double(samples * out)
            if best == nil || err < best!.error { best = (s, alpha, err) }
        }
        return best!
    }
}
