import Tensors

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
