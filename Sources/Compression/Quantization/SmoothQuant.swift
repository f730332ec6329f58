import Foundation
import Tensors

/// SmoothQuant (Xiao et al., 2023): moves activation outliers into the weights with a per-input-channel scale,
/// `x' = x / s`, `W' = W · diag(s)`, so both quantize well.
public enum SmoothQuant {
    /// s_j = max|X_j|^α / max|W_{:,j}|^(1−α) (paper eq. 4), clamped to ≥ 1e-5; channels never active get 1.
    public static func scales(activationAbsMax: [Float], weight w: Tensor, alpha: Float) -> [Float] {
        let (rows, cols) = (w.shape[0], w.shape[1])
        var wMax = [Float](repeating: 0, count: cols)
        w.withUnsafeFloats { wp in for r in 0..<rows { for c in 0..<cols { wMax[c] = max(wMax[c], abs(wp[r * cols + c])) } } }
        return (0..<cols).map { j in
            let a = activationAbsMax[j], b = wMax[j]
            guard a > 0, b > 0 else { return 1 }
            return max(1e-5, pow(a, alpha) / pow(b, 1 - alpha))
        }
    }
}
