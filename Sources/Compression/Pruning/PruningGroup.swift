import Layers
import Tensors

/// What one prunable unit of a group is: the `structure` key of a prune stage names one of these.
public enum PruningUnitKind: String, ConfigEnum {
    /// Conv2D out-channels (with their BatchNorm features and the consumers' input channels).
    case channels
    /// Dense neurons and BERT FFN neurons (intermediate rows with the output projection's columns).
    case neurons
    /// BERT attention heads: head-size blocks of query/key/value rows with the output projection's columns.
    case heads
    /// Whole BERT encoder layers.
    case layers
}

/// One tensor axis that shrinks with a group: unit `u` owns indices `indices[u]` along `axis` of `parameter`.
///
/// A Conv2D feeding a Flatten then a Dense couples channel `c` with the Dense's input columns `p·C + c` for every
/// spatial position `p` (NHWC flatten is channels-last); a BERT head `h` owns rows `h·d ..< (h+1)·d` of query, key
/// and value. Indices of one unit are listed in increasing order.
public struct CoupledSlice: Sendable, Equatable {
    /// Dotted parameter path (`conv2.weight`, `encoder.layer.3.attention.output.dense.weight`).
    public var parameter: String
    public var axis: Int
    /// (units) lists of indices along `axis`.
    public var indices: [[Int]]
    /// Whether the slice counts in norm and Taylor importance (weights and BatchNorm scales do; biases, shifts and
    /// running statistics only shrink along).
    public var scored: Bool

    public init(parameter: String, axis: Int, indices: [[Int]], scored: Bool) {
        self.parameter = parameter; self.axis = axis; self.indices = indices; self.scored = scored
    }

    /// Unit `u` owns indices `u·width ..< (u+1)·width` (heads; width 1 for channels and neurons).
    public static func blocks(_ parameter: String, axis: Int, units: Int, width: Int = 1, scored: Bool) -> CoupledSlice {
        CoupledSlice(parameter: parameter, axis: axis, indices: (0..<units).map { Array(($0 * width)..<(($0 + 1) * width)) }, scored: scored)
    }
}

/// Dimensions that must shrink together (Torch-Pruning's DepGraph "group"): the producer's output units, everything
/// that carries them elementwise (BatchNorm, activations, pools, flatten) and the consumers' inputs.
public struct PruningGroup: Sendable {
    /// The producer's module path (`conv1`, `encoder.layer.2.attention`, `encoder.layer.2.intermediate`,
    /// `encoder.layer`); recipe `targets`/`ignore` match it.
    public var root: String
    public var kind: PruningUnitKind
    /// Number of units the group has now.
    public var units: Int
    /// Every tensor axis that loses the pruned units. Empty for ``PruningUnitKind/layers`` (whole subtrees go).
    public var slices: [CoupledSlice]
    /// Module paths of each unit, for ``PruningUnitKind/layers`` (`encoder.layer.4`); targets/ignore match them.
    public var unitPaths: [String]?
    /// The modules that read the group's units, with the indices of each unit along their input's last axis:
    /// activation importance is the mean |input| there (what the units actually pass on).
    public var consumerInputs: [(module: String, indices: [[Int]])] = []

    public init(root: String, kind: PruningUnitKind, units: Int, slices: [CoupledSlice], unitPaths: [String]? = nil) {
        self.root = root; self.kind = kind; self.units = units; self.slices = slices; self.unitPaths = unitPaths
    }
}

extension Tensor {
    /// The elements whose index along `axis` is in `keep` (in that order), as a copy: numpy's `take(keep, axis)`.
    /// Works for any rank and element size.
    func taking(_ keep: [Int], axis: Int) -> Tensor {
        precondition(axis >= 0 && axis < rank, "axis \(axis) out of rank \(rank)")
        let outer = shape[..<axis].reduce(1, *), n = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        var newShape = shape
        newShape[axis] = keep.count
        let out = Tensor(uninitialized: newShape, dtype: dtype)
        let bytes = inner * dtype.byteSize
        let src = storage.pointer, dst = out.storage.pointer
        for o in 0..<outer {
            for (j, k) in keep.enumerated() {
                precondition(k >= 0 && k < n, "index \(k) out of \(n)")
                (dst + (o * keep.count + j) * bytes).copyMemory(from: src + (o * n + k) * bytes, byteCount: bytes)
            }
        }
        return out
    }

    /// Per-index reductions along `axis`: for each index i, Σ f(x) over all elements whose `axis` index is i.
    func sumAlong(axis: Int, _ f: (Float) -> Double) -> [Double] {
        let outer = shape[..<axis].reduce(1, *), n = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        var out = [Double](repeating: 0, count: n)
        withUnsafeFloats { p in
            for o in 0..<outer {
                for i in 0..<n {
                    let row = p.baseAddress! + (o * n + i) * inner
                    var acc = 0.0
                    for j in 0..<inner { acc += f(row[j]) }
                    out[i] += acc
                }
            }
        }
        return out
    }
}
