import Tensors

/// A node of a model tree. Parameters and children have local names; a full path joins them with dots,
/// as Hugging Face and mlx do (`encoder.layer.3.intermediate.dense.weight`).
///
/// Compression passes find modules by path (``Module/namedModules()``) and swap them with
/// ``Module/replaceModule(at:with:)``; loaders apply weights with the strict ``Module/update(parameters:)``.
open class Module {
    /// Parameter tensors owned by this module, in declaration order.
    public private(set) var parameterNames: [String] = []
    private var parameterValues: [String: Tensor] = [:]
    private var parameterShapes: [String: [Int]] = [:]
    private var parameterTypes: [String: DType] = [:]
    /// Child modules in execution order.
    public private(set) var children: [(name: String, module: Module)] = []

    /// Bumped whenever a parameter changes, so owners of derived caches (fused QKV) know to rebuild.
    public private(set) var revision = 0

    public init() {}

    /// A short type name for listings (`Linear`, `Conv2D`, …).
    open var typeName: String { String(describing: type(of: self)) }

    /// A one-line description of the module's configuration for `inspect`.
    open var summary: String { "" }

    /// Declares a parameter with its required shape and element type; it is zero until loaded.
    /// Float32 parameters accept any float input (widened); integer parameters (quantized codes) must match exactly.
    public func declareParameter(_ name: String, shape: [Int], dtype: DType = .float32) {
        precondition(parameterShapes[name] == nil, "parameter \(name) declared twice")
        parameterNames.append(name)
        parameterShapes[name] = shape
        parameterTypes[name] = dtype
        parameterValues[name] = Tensor(zeros: shape, dtype: dtype)
    }

    /// Adds a child module; the name becomes one path component.
    public func addChild(_ name: String, _ module: Module) {
        precondition(!children.contains { $0.name == name }, "child \(name) added twice")
        children.append((name, module))
    }

    /// Removes a child (for passes that merge one module into another, like BatchNorm folding).
    public func removeChild(_ name: String) {
        children.removeAll { $0.name == name }
        childDidChange(name)
    }

    /// A parameter by local name.
    public func parameter(_ name: String) -> Tensor {
        guard let t = parameterValues[name] else { preconditionFailure("\(typeName) has no parameter \(name)") }
        return t
    }

    /// Replaces a parameter, checking its shape; the error names the parameter.
    public func setParameter(_ name: String, _ value: Tensor, path: String? = nil) throws {
        let full = path ?? name
        guard let expected = parameterShapes[name] else { throw ModelError.unexpectedParameter(full) }
        guard value.shape == expected else { throw ModelError.shapeMismatch(name: full, expected: expected, got: value.shape) }
        let dtype = parameterTypes[name] ?? .float32
        if dtype == .float32 {
            guard value.dtype.isFloatingPoint else {
                throw ModelError.dtypeMismatch(name: full, expected: dtype.rawValue, got: value.dtype.rawValue)
            }
            parameterValues[name] = value.dtype == .float32 ? value : value.toFloat32()
        } else {
            guard value.dtype == dtype else {
                throw ModelError.dtypeMismatch(name: full, expected: dtype.rawValue, got: value.dtype.rawValue)
            }
            parameterValues[name] = value
        }
        revision &+= 1
        parameterDidChange(name)
    }

    /// Called after a parameter changed, for modules that cache derived forms (fused or packed weights).
    open func parameterDidChange(_ name: String) {}

    /// Every parameter under this module, keyed by dotted path, in tree order.
    public func namedParameters(prefix: String = "") -> [(String, Tensor)] {
        var out: [(String, Tensor)] = parameterNames.map { (prefix + $0, parameterValues[$0]!) }
        for (name, child) in children { out += child.namedParameters(prefix: prefix + name + ".") }
        return out
    }

    /// Every module under (and including) this one, keyed by dotted path ("" for the root).
    public func namedModules(prefix: String = "") -> [(String, Module)] {
        var out: [(String, Module)] = [(prefix.isEmpty ? "" : String(prefix.dropLast()), self)]
        for (name, child) in children { out += child.namedModules(prefix: prefix + name + ".") }
        return out
    }

    /// Number of scalar parameters.
    public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.1.count } }

    /// Applies `parameters` by path. Strict: every parameter of the tree must be given with its declared
    /// shape, and no extra key is allowed; errors name the tensor.
    public func update(parameters: [String: Tensor]) throws {
        let expected = namedParameters()
        let expectedKeys = Set(expected.map(\.0))
        if let extra = parameters.keys.sorted().first(where: { !expectedKeys.contains($0) }) {
            throw ModelError.unexpectedParameter(extra)
        }
        if let missing = expected.map(\.0).first(where: { parameters[$0] == nil }) {
            throw ModelError.missingParameter(missing)
        }
        for (path, module) in namedModules() {
            let prefix = path.isEmpty ? "" : path + "."
            for name in module.parameterNames {
                try module.setParameter(name, parameters[prefix + name]!, path: prefix + name)
            }
        }
    }

    /// The module at a dotted path.
    public func module(at path: String) -> Module? {
        if path.isEmpty { return self }
        var node: Module = self
        for part in path.split(separator: ".") {
            guard let next = node.children.first(where: { $0.name == part })?.module else { return nil }
            node = next
        }
        return node
    }

    /// Replaces the module at a dotted path (the last component names a child of its parent).
    public func replaceModule(at path: String, with replacement: Module) throws {
        let parts = path.split(separator: ".").map(String.init)
        guard let last = parts.last, let parent = module(at: parts.dropLast().joined(separator: ".")),
            let index = parent.children.firstIndex(where: { $0.name == last })
        else { throw ModelError.noSuchModule(path) }
        parent.children[index] = (last, replacement)
        parent.childDidChange(last)
    }

    /// Called after a child was replaced, for containers that cache typed references.
    open func childDidChange(_ name: String) {}
}

/// Errors about a model tree; messages name the tensor or module.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(name: String, expected: [Int], got: [Int])
    case dtypeMismatch(name: String, expected: String, got: String)
    case missingParameter(String)
    case unexpectedParameter(String)
    case noSuchModule(String)
    case unsupportedLayer(name: String, type: String, supported: [String])
    case invalidConfig(String)
    case badInput(String)

    public var description: String {
        switch self {
        case let .shapeMismatch(name, expected, got): return "shape mismatch for tensor '\(name)': expected \(expected), got \(got)"
        case let .dtypeMismatch(name, expected, got): return "dtype mismatch for tensor '\(name)': expected \(expected), got \(got)"
        case let .missingParameter(name): return "missing tensor '\(name)'"
        case let .unexpectedParameter(name): return "unexpected tensor '\(name)' (no such parameter in the model)"
        case let .noSuchModule(path): return "no module at path '\(path)'"
        case let .unsupportedLayer(name, type, supported):
            return "unsupported layer '\(name)' of type \(type); supported: \(supported.joined(separator: ", "))"
        case let .invalidConfig(message): return "invalid model config: \(message)"
        case let .badInput(message): return "bad input: \(message)"
        }
    }
}
