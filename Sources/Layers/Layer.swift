import Tensors

/// A module that maps one tensor to one tensor, the unit of a ``SequentialModel``.
open class Layer: Module {
    /// The layer's name (its path component in the model).
    public let name: String

    public init(name: String) {
        self.name = name
        super.init()
    }

    /// The layer's architecture, for `model.json`.
    open var spec: LayerSpec { fatalError("\(typeName) must override spec") }

    /// Runs the layer. Inputs are batched: the first dimension is the batch.
    open func forward(_ x: Tensor, on executor: Executor) throws -> Tensor { fatalError("\(typeName) must override forward") }

    /// Output shape (without batch) for an input shape (without batch); throws when they don't fit.
    open func outputShape(for input: [Int]) throws -> [Int] { input }
}
