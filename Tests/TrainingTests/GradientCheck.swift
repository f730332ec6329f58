import Layers
import Tensors
import Training

/// The executor the tests run on: two threads, so parallel chunks (LayerNorm partials, attention heads) are used.
let testExecutor = Executor(threads: 2)

/// Normwise relative error bound for float32 analytic gradients against float64 central differences of the float64
/// reference: float32 accumulation on these small instances stays near 1e-6, so 1e-4 leaves a wide margin while
/// still catching any wrong term (which shows up at 1e-2 or worse).
let gradientTolerance = 1e-4

/// SplitMix64 for reproducible test data.
struct Rng {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * Double(next() >> 11) / Double(1 << 53) }
    mutating func floats(_ n: Int, _ lo: Double = -1, _ hi: Double = 1) -> [Float] { (0..<n).map { _ in Float(uniform(lo, hi)) } }
    mutating func tensor(_ shape: [Int], _ lo: Double = -1, _ hi: Double = 1) -> Tensor {
        Tensor(shape: shape, floats: floats(shape.reduce(1, *), lo, hi))
    }
}

/// Random float parameters for every module under `model` (BatchNorm variances positive, LayerNorm/BatchNorm scales
/// near 1 so normalizations stay well conditioned).
func randomize(_ model: Module, seed: UInt64) throws {
    var rng = Rng(seed)
    var params: [String: Tensor] = [:]
    for (path, t) in model.namedParameters() {
        let last = path.split(separator: ".").last.map(String.init) ?? path
        let isScale = last == "gamma" || (path.contains("LayerNorm") && last == "weight")
        let (lo, hi): (Double, Double) = last == "variance" ? (0.5, 1.5) : isScale ? (0.7, 1.3) : (-0.6, 0.6)
        params[path] = rng.tensor(t.shape, lo, hi)
    }
    try model.update(parameters: params)
}

/// Every float parameter of `model` as float64 arrays by path.
func parameters64(_ model: Module) -> [String: [Double]] {
    var out: [String: [Double]] = [:]
    for (path, t) in model.namedParameters() { out[path] = t.floats.map(Double.init) }
    return out
}

/// ‖a − b‖ / max(‖b‖, floor). The floor matters only for gradients that vanish mathematically — a bias right
/// before a train-mode BatchNorm, the key bias under the softmax (it shifts a whole score row) — where float32
/// leaves cancellation noise around an exact zero; callers pass a small fraction of the model's largest gradient.
func relativeError(_ a: [Double], _ b: [Double], floor: Double = 1e-30) -> Double {
    precondition(a.count == b.count, "\(a.count) vs \(b.count)")
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, b) { num += (x - y) * (x - y); den += y * y }
    return num.squareRoot() / max(den.squareRoot(), floor)
}

/// Share of the largest reference gradient norm below which a tensor's gradient counts as vanishing (see
/// ``relativeError(_:_:floor:)``).
let vanishingGradientFloor = 1e-2

func norm(_ a: [Double]) -> Double { a.reduce(0) { $0 + $1 * $1 }.squareRoot() }

/// Compares analytic gradients of L = Σ r·f(values) with float64 central differences (h = 1e-5) of the reference
/// `f`, for every key of `analytic`. Returns the normwise relative error per key.
func gradientErrors(
    values: [String: [Double]], r: [Double], analytic: [String: [Float]], h: Double = 1e-5, reference f: ([String: [Double]]) -> [Double]
) -> [String: Double] {
    func loss(_ v: [String: [Double]]) -> Double { zip(f(v), r).reduce(0) { $0 + $1.0 * $1.1 } }
    var numeric: [String: [Double]] = [:]
    for (key, grad) in analytic {
        var v = values
        var fd = [Double](repeating: 0, count: grad.count)
        for i in 0..<grad.count {
            let x0 = values[key]![i]
            v[key]![i] = x0 + h
            let up = loss(v)
            v[key]![i] = x0 - h
            let down = loss(v)
            v[key]![i] = x0
            fd[i] = (up - down) / (2 * h)
        }
        numeric[key] = fd
    }
    let floor = vanishingGradientFloor * (numeric.values.map(norm).max() ?? 0)
    var errors: [String: Double] = [:]
    for (key, fd) in numeric { errors[key] = relativeError(analytic[key]!.map(Double.init), fd, floor: floor) }
    return errors
}

/// The largest of `errors`, with its key for the failure message.
func worst(_ errors: [String: Double], _ what: String = #function) -> (key: String, error: Double) {
    let w = errors.max { $0.value < $1.value }!
    print("finite differences \(what): worst relative error \(w.value) (\(w.key))")
    return (w.key, w.value)
}
