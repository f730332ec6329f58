import Tensors

/// A plain container: only names its children.
public final class Container: Module {
    public init(_ children: [(String, Module)]) {
        super.init()
        for (name, child) in children { addChild(name, child) }
    }
}
