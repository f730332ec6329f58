import Foundation
import Layers

/// Activation ranges for static int8 quantization, from values seen during calibration.
public enum ActivationCalibration {
    public enum Method: String, ConfigEnum {
        /// The observed minimum and maximum.
        case minmax
        /// The given percentile of |x| (e.g. 99.99).
        case percentile
        /// TensorRT's KL-divergence calibration over the |x| histogram.
        case entropy
        /// The threshold minimizing the expected quantization MSE (rounding inside, clipping outside).
        case mse
    }

    /// Streams activation values: min, max, and a histogram of |x| whose range grows by re-binning.
    public struct Observer: Sendable {
        public let bins: Int
        public private(set) var count = 0
        public private(set) var min: Float = .infinity
        public private(set) var max: Float = -.infinity
        /// Counts of |x| over [0, range) in `bins` equal bins.
        public private(set) var histogram: [Double]
        public private(set) var range: Float = 0

        public init(bins: Int = 2048) {
            self.bins = bins
            histogram = [Double](repeating: 0, count: bins)
        }

        public mutating func observe(_ x: UnsafeBufferPointer<Float>) {
            guard !x.isEmpty else { return }
            var lo = min, hi = max, absMax: Float = 0
            for v in x { lo = Swift.min(lo, v); hi = Swift.max(hi, v); absMax = Swift.max(absMax, abs(v)) }
            min = lo
            max = hi
            count += x.count
            if absMax > range { grow(to: absMax) }
            guard range > 0 else { histogram[0] += Double(x.count); return }
            let scale = Float(bins) / range
            for v in x { histogram[Swift.min(bins - 1, Int(abs(v) * scale))] += 1 }
        }

        /// Widens the range, moving each old bin's count to the new bin holding its centre.
        private mutating func grow(to newRange: Float) {
            if range > 0 {
                var fresh = [Double](repeating: 0, count: bins)
                let oldWidth = range / Float(bins), scale = Float(bins) / newRange
                for (b, c) in histogram.enumerated() where c > 0 {
                    fresh[Swift.min(bins - 1, Int((Float(b) + 0.5) * oldWidth * scale))] += c
                }
                histogram = fresh
            }
            range = newRange
        }
    }

    /// The clipping range (lo, hi) for the observed values.
    public static func range(_ o: Observer, method: Method, percentile: Double = 99.99, symmetric: Bool) throws -> (lo: Float, hi: Float) {
        guard o.count > 0 else { throw CompressionError.calibration("no activation values were observed") }
        if method == .minmax { return symmetric ? (-Swift.max(abs(o.min), abs(o.max)), Swift.max(abs(o.min), abs(o.max))) : (o.min, o.max) }
        let t: Float
        switch method {
        case .percentile: t = percentileThreshold(o, percentile)
        case .entropy: t = entropyThreshold(o)
        case .mse: t = mseThreshold(o)
        case .minmax: t = o.range
        }
        return symmetric ? (-t, t) : (Swift.max(o.min, -t), Swift.min(o.max, t))
    }

    static func percentileThreshold(_ o: Observer, _ p: Double) -> Float {
        let total = o.histogram.reduce(0, +), target = total * p / 100
        var cum = 0.0
        for (b, c) in o.histogram.enumerated() {
            cum += c
            if cum >= target { return Swift.min(o.range, Float(b + 1) * o.range / Float(o.bins)) }
        }
        return o.range
    }

    /// Port of pytorch-quantization's `_compute_amax_entropy` (TensorRT's method): bin 0 takes bin 1's count (the
    /// spike of exact zeros would dominate); for each candidate bin count i from 128, P = the first i bins with the
    /// tail folded into the last, Q = P merged into 128 levels and spread back over P's non-empty bins; the
    /// threshold is the edge of the (last) i minimizing KL(P‖Q). Level boundaries follow `np.digitize` over
    /// `np.linspace(0, i, 129)` in double, so ties at boundaries land as in the reference.
    static func entropyThreshold(_ o: Observer, levels: Int = 128) -> Float {
        entropyThreshold(histogram: o.histogram, range: o.range, levels: levels)
    }

    static func entropyThreshold(histogram: [Double], range: Float, levels: Int = 128) -> Float {
        var hist = histogram
        let n = hist.count
        guard n > levels else { return range }
        if n > 1 { hist[0] = hist[1] }
        var suffix = [Double](repeating: 0, count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) { suffix[i] = suffix[i + 1] + hist[i] }
        var bestI = levels, bestKL = Double.infinity
        var level = [Int](repeating: 0, count: n)
        for i in levels...n {
            // level[j] = largest k with linspace(0, i, levels + 1)[k] <= j (np.digitize(range(i), space) - 1).
            let step = Double(i) / Double(levels)
            for j in 0..<i {
                var k = Swift.min(levels, Int(Double(j) / step))
                while k + 1 <= levels && Double(k + 1) * step <= Double(j) { k += 1 }
                while k > 0 && Double(k) * step > Double(j) { k -= 1 }
                level[j] = k
            }
            var levelSum = [Double](repeating: 0, count: levels + 1), levelNonEmpty = [Int](repeating: 0, count: levels + 1)
            for j in 0..<i where hist[j] != 0 {
                levelSum[level[j]] += hist[j]
                levelNonEmpty[level[j]] += 1
            }
            var q = [Double](repeating: 0, count: i)
            for j in 0..<i where hist[j] != 0 { q[j] = levelSum[level[j]] / Double(levelNonEmpty[level[j]]) }
            var p = Array(hist[0..<i])
            p[i - 1] += suffix[i]
            let pSum = p.reduce(0, +), qSum = q.reduce(0, +)
            guard pSum > 0, qSum > 0 else { continue }
            var kl = 0.0
            for j in 0..<i where p[j] > 0 {
                let pj = p[j] / pSum, qj = q[j] / qSum
                if qj == 0 { kl = .infinity; break }
                kl += pj * log(pj / qj)
            }
            if kl <= bestKL { bestKL = kl; bestI = i }  // ties: the last minimum, as the reference
        }
        return Float(bestI) * range / Float(n)
    }

    /// Expected squared error of u8 quantization over [-t, t] for the histogram, minimized over t on bin edges.
    static func mseThreshold(_ o: Observer) -> Float {
        let width = o.range / Float(o.bins)
        var bestT = o.range, bestErr = Double.infinity
        for i in stride(from: Swift.max(1, o.bins / 16), through: o.bins, by: 1) {
            let t = Float(i) * width
            let step = Double(2 * t / 255)
            var err = 0.0
            for (b, c) in o.histogram.enumerated() where c > 0 {
                let center = Double((Float(b) + 0.5) * width)
                err += c * (center <= Double(t) ? step * step / 12 : (center - Double(t)) * (center - Double(t)))
            }
            if err < bestErr { bestErr = err; bestT = t }
        }
        return bestT
    }
}
