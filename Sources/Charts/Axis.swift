import Foundation

/// One axis of a chart: its label, scale and how tick values are written.
public struct Axis: Sendable {
    public enum Scale: Sendable { case linear, log }

    public var label: String
    public var scale: Scale
    /// Writes a tick value (e.g. ``Units/duration(microseconds:)``).
    public var format: @Sendable (Double) -> String
    /// Forces zero into a linear axis (bars and throughputs read wrong from a cut axis).
    public var includesZero: Bool
    /// A value the axis never extends past (1 for accuracy and cosine: a tick at 110 % reads as nonsense).
    public var maximum: Double?

    public init(_ label: String, scale: Scale = .linear, includesZero: Bool = false, format: @escaping @Sendable (Double) -> String = Units.number) {
        self.label = label
        self.scale = scale
        self.format = format
        self.includesZero = includesZero
    }

    /// The data range widened to round tick values: 1, 2, 5 × 10ᵏ steps (linear) or whole decades (log).
    func ticks(for values: [Double]) -> (lower: Double, upper: Double, ticks: [Double]) {
        let finite = values.filter { $0.isFinite && (scale == .linear || $0 > 0) }
        guard var lo = finite.min(), var hi = finite.max() else { return (0, 1, [0, 1]) }
        switch scale {
        case .log:
            let a = floor(log10(lo)), b = max(ceil(log10(hi)), a + 1)
            let ticks = stride(from: a, through: b, by: 1).map { pow(10, $0) }
            return (pow(10, a), pow(10, b), ticks)
        case .linear:
            if includesZero { lo = min(lo, 0); hi = max(hi, 0) }
            if hi == lo {
                let pad = max(abs(lo) * 0.02, 1e-9)
                lo -= pad
                hi += pad
            }
            if let maximum, finite.max()! <= maximum { hi = min(hi, maximum) }
            let raw = (hi - lo) / 5
            let magnitude = pow(10, floor(log10(raw)))
            let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
            let lower = floor(lo / step) * step, upper = ceil(hi / step) * step
            var ticks = stride(from: lower, through: upper + step / 2, by: step).map { $0 }
            if let maximum, upper > maximum, hi <= maximum {
                ticks = ticks.filter { $0 <= maximum + step * 1e-9 }
                return (lower, max(maximum, ticks.last ?? maximum), ticks)
            }
            return (lower, upper, ticks)
        }
    }
}
