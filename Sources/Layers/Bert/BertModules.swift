import Tensors

/// A plain container: only names its children.
public final class Container: Module {
    public init(_ children: [(String, Module)]) {
        super.init()
        for (name, child) in children { addChild(name, child) }
    }
}

/// A lookup table: weight (count, dim).
public final class Embedding: Module, EmbeddingTable {
    public let count: Int
    public let dim: Int
    public init(count: Int, dim: Int) {
        self.count = count
        self.dim = dim
        super.init()
        declareParameter("weight", shape: [count, dim])
    }
    public override var summary: String { "\(count) × \(dim)" }

    public func copyRow(_ index: Int, into destination: UnsafeMutablePointer<Float>) {
        parameter("weight").withUnsafeFloats { destination.update(from: $0.baseAddress! + index * dim, count: dim) }
    }
}

/// LayerNorm over the last axis: weight (dim), bias (dim).
public final class LayerNorm: Module {
    public let dim: Int
    public let eps: Float
    public init(dim: Int, eps: Float) {
        self.dim = dim
        self.eps = eps
        super.init()
        declareParameter("weight", shape: [dim])
        declareParameter("bias", shape: [dim])
    }
    public override var summary: String { "\(dim), eps \(eps)" }

    /// x(rows, dim) = LN(x + bias + residual), in place.
    public func apply(_ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, rows: Int) {
        parameter("weight").withUnsafeFloats { g in
            parameter("bias").withUnsafeFloats { b in
                Ops.addLayerNorm(
                    x, residual: residual, bias: bias, gamma: g.baseAddress!, beta: b.baseAddress!, eps: eps, rows: rows, cols: dim)
            }
        }
    }
}
