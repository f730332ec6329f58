import Layers
import Tensors

/// One float buffer per trainable parameter, keyed by the same dotted paths as ``Module/namedParameters()`` and
/// carved out of one contiguous, 64-byte aligned block (llm.c's `grads_memory`, `m_memory`, `v_memory`): the
/// gradients of a model, and each optimizer moment, are one of these. Allocated once and reused every step, so a
/// training step allocates no parameter-sized memory; the global-norm clip and the optimizer walk ``all`` in one
/// pass.
///
/// ```swift
/// let grads = Gradients(trainableIn: model)        // zeroed
/// grads["fc1.weight"]!                             // UnsafeMutableBufferPointer<Float> (64, 1024)
/// ```
///
/// `@unchecked Sendable`: a buffer is written by the one training step that owns it (backward, then optimizer);
/// parallel backward kernels write disjoint slices.
public final class ParameterBuffers: @unchecked Sendable {
    /// Paths in the model's tree order.
    public let paths: [String]
    /// Shape of each buffer (the parameter's shape).
    public let shapes: [String: [Int]]
    private let offsets: [String: Int]
    /// Total floats over all buffers.
    public let count: Int
    private let base: UnsafeMutablePointer<Float>

    /// Zeroed buffers for `parameters` (path, shape), in order.
    public init(shapes parameters: [(String, [Int])]) {
        var offsets: [String: Int] = [:]
        var shapes: [String: [Int]] = [:]
        var total = 0
        for (path, shape) in parameters {
            precondition(offsets[path] == nil, "parameter \(path) listed twice")
            offsets[path] = total
            shapes[path] = shape
            // Each buffer starts on a 16-float (64-byte) boundary so SIMD kernels see aligned rows.
            total += (shape.reduce(1, *) + 15) / 16 * 16
        }
        paths = parameters.map(\.0)
        self.shapes = shapes
        self.offsets = offsets
        count = total
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1) * MemoryLayout<Float>.stride, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(total, 1))
        base.initialize(repeating: 0, count: max(total, 1))
    }

    /// Zeroed buffers shaped like the trainable parameters of `model` (see ``TrainableParameters``).
    public convenience init(trainableIn model: Module, where include: (String) -> Bool = { _ in true }) {
        self.init(shapes: TrainableParameters.named(in: model).filter { include($0.0) }.map { ($0.0, $0.1.shape) })
    }

    /// A zeroed set with the same paths and shapes (optimizer moments next to the gradients).
    public func zerosLike() -> ParameterBuffers { ParameterBuffers(shapes: paths.map { ($0, shapes[$0]!) }) }

    deinit { base.deallocate() }

    /// The buffer of `path`, or nil when the parameter is not trained (frozen or not a float parameter).
    public subscript(path: String) -> UnsafeMutableBufferPointer<Float>? {
        guard let offset = offsets[path] else { return nil }
        return UnsafeMutableBufferPointer(start: base + offset, count: shapes[path]!.reduce(1, *))
    }

    /// The buffer of parameter `name` of the module at `modulePath` ("" for the root).
    public func buffer(_ modulePath: String, _ name: String) -> UnsafeMutablePointer<Float>? {
        self[modulePath.isEmpty ? name : modulePath + "." + name]?.baseAddress
    }

    /// Every float of every buffer, padding included (padding stays zero): for norms and element-wise updates.
    public var all: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: base, count: count) }

    /// Sets every buffer to zero (before each step's backward, which accumulates).
    public func zero() { base.update(repeating: 0, count: count) }

    /// A copy of one buffer as a tensor (for tests, checkpoints and reports).
    public func tensor(_ path: String) -> Tensor? {
        guard let b = self[path] else { return nil }
        return Tensor(shape: shapes[path]!, floats: Array(b))
    }
}

/// The gradients of a model's trainable parameters, shaped like its parameter tree.
public typealias Gradients = ParameterBuffers

/// Which parameters a training step updates.
public enum TrainableParameters {
    /// The float parameters of `model` except BatchNorm's running `mean`/`variance` (statistics updated by the
    /// training forward, not by gradients), in tree order.
    public static func named(in model: Module) -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for (path, module) in model.namedModules() {
            let prefix = path.isEmpty ? "" : path + "."
            for name in module.parameterNames {
                if module is BatchNorm, name == "mean" || name == "variance" { continue }
                let t = module.parameter(name)
                guard t.dtype == .float32 else { continue }
                out.append((prefix + name, t))
            }
        }
        return out
    }
}

/// `prefix.name`, or `name` at the root.
@inlinable
func joinPath(_ prefix: String, _ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }
