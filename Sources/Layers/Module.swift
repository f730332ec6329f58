import Tensors

/// A node of a model tree. Parameters and children have local names; a full path joins them with dots,
/// as Hugging Face and mlx do (`encoder.layer.3.intermediate.dense.weight`).
///
/// Compression passes find modules by path (``Module/namedModules()``) and swap them with
/// ``Module/replaceModule(at:with:)``; loaders apply weights with the strict ``Module/update(parameters:)``.
///
/// Derived state (packed weights, int8 preparation, fused projections, typed child references) is rebuilt
/// eagerly by ``prepare()`` whenever a parameter or child changes, never during `forward`: a forward pass only
/// reads the model, so any number of threads may run one model at once. ``freeze()`` then makes the tree
/// immutable: every later edit throws ``ModelError/frozen(_:)``.
///
/// `@unchecked Sendable`: all stored state is written only by the editing methods below, which trap or throw once
/// the module is frozen; a model is edited by one owner (loader, compression pass) before it is frozen and shared,
/// and forward passes never write to it. Calibration wrappers (which record inputs) live only in unfrozen models run
/// by one thread.
open class Module: @unchecked Sendable {
    /// Parameter tensors owned by this module, in declaration order.
    public private(set) var parameterNames: [String] = []
    private var parameterValues: [String: Tensor] = [:]
    private var parameterShapes: [String: [Int]] = [:]
    private var parameterTypes: [String: DType] = [:]
    /// Child modules in execution order.
    public private(set) var children: [(name: String, module: Module)] = []

    /// The module this one is a child of (nil for a root or a detached module): edits propagate upward so that
    /// parents rebuild caches that depend on their children (a fused QKV weight).
    public private(set) weak var parent: Module?
    /// Set by ``freeze()``; edits are refused from then on.
    public private(set) var isFrozen = false
    /// While a bulk ``update(parameters:)`` runs, single-parameter notifications wait for its one final pass.
    private var deferPreparation = false

    public init() {}

    /// Rebuilds this module's derived state from its parameters and children (packed weights, fused projections,
    /// typed references). Called after every edit, bottom-up; overrides must not touch other modules.
    open func prepare() {}

    /// Makes the tree immutable. Caches are already current (``prepare()`` runs on every edit), so freezing only
    /// sets the flag on every module; from then on ``setParameter(_:_:path:)`` and ``replaceModule(at:with:)`` throw.
    public func freeze() {
        for (_, module) in namedModules() { module.isFrozen = true }
    }

    /// Runs ``prepare()`` on this module and then on each ancestor, nearest first.
    private func prepareUpward() {
        var node: Module? = self
        while let m = node {
            m.prepare()
            node = m.parent
        }
    }

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
        precondition(!isFrozen, "addChild on a frozen module")
        precondition(!children.contains { $0.name == name }, "child \(name) added twice")
        children.append((name, module))
        module.parent = self
    }

    /// Removes a child (for passes that merge one module into another, like BatchNorm folding).
    public func removeChild(_ name: String) throws {
        guard !isFrozen else { throw ModelError.frozen(name) }
        children.removeAll { $0.name == name }
        childDidChange(name)
        prepareUpward()
    }

    /// A parameter by local name.
    public func parameter(_ name: String) -> Tensor {
        guard let t = parameterValues[name] else { preconditionFailure("\(typeName) has no parameter \(name)") }
        return t
    }

    /// Replaces a parameter, checking its shape; the error names the parameter.
    public func setParameter(_ name: String, _ value: Tensor, path: String? = nil) throws {
        let full = path ?? name
        guard !isFrozen else { throw ModelError.frozen(full) }
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
        if !deferPreparation { prepareUpward() }
    }

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
        let modules = namedModules()
        for (_, module) in modules { module.deferPreparation = true }
        defer {
            for (_, module) in modules { module.deferPreparation = false }
            // Children before parents (reverse tree order), then this module's ancestors.
            for (_, module) in modules.reversed() { module.prepare() }
            parent?.prepareUpward()
        }
        for (path, module) in modules {
            let prefix = path.isEmpty ? "" : path + "."
            for name in module.parameterNames {
                try module.setParameter(name, parameters[prefix + name]!, path: prefix + name)
            }
        }
    }

    /// Edits float32 parameters in place by dotted path (an optimizer step), then rebuilds derived state once:
    /// each edited module's ``prepare()`` runs children first, then every ancestor of them once. Unlike
    /// ``update(parameters:)`` no parameter is copied and unedited modules keep their caches. `body` receives each
    /// path with its floats; shapes and dtypes cannot change. Throws for a frozen model or an unknown path.
    ///
    /// ```swift
    /// try model.editParametersInPlace(["fc1.weight"]) { path, w in for i in w.indices { w[i] *= 0.5 } }
    /// ```
    public func editParametersInPlace(
        _ paths: [String], _ body: (_ path: String, _ floats: UnsafeMutableBufferPointer<Float>) throws -> Void
    ) throws {
        var edited: [ObjectIdentifier: Module] = [:]
        var order: [Module] = []
        for path in paths {
            let parts = path.split(separator: ".", omittingEmptySubsequences: false)
            let name = String(parts.last!)
            guard let owner = module(at: parts.dropLast().joined(separator: ".")), owner.parameterShapes[name] != nil else {
                throw ModelError.unexpectedParameter(path)
            }
            guard !owner.isFrozen else { throw ModelError.frozen(path) }
            guard owner.parameterTypes[name] == .float32 else {
                throw ModelError.dtypeMismatch(name: path, expected: DType.float32.rawValue, got: owner.parameterTypes[name]!.rawValue)
            }
            try owner.parameterValues[name]!.withUnsafeMutableFloats { try body(path, $0) }
            if edited.updateValue(owner, forKey: ObjectIdentifier(owner)) == nil { order.append(owner) }
        }
        // Edited modules deepest first, then each ancestor once, nearest first (a fused QKV parent after its
        // three projections).
        var seen = Set<ObjectIdentifier>()
        var ancestors: [Module] = []
        for m in order.reversed() {
            m.prepare()
            var node = m.parent
            while let a = node {
                if edited[ObjectIdentifier(a)] == nil, seen.insert(ObjectIdentifier(a)).inserted { ancestors.append(a) }
                node = a.parent
            }
        }
        ancestors.sort { $0.depth > $1.depth }
        for a in ancestors { a.prepare() }
    }

    /// Distance to the root.
    private var depth: Int {
        var d = 0
        var node = parent
        while let n = node { d += 1; node = n.parent }
        return d
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
        guard !parent.isFrozen else { throw ModelError.frozen(path) }
        parent.children[index].module.parent = nil
        parent.children[index] = (last, replacement)
        replacement.parent = parent
        parent.childDidChange(last)
        parent.prepareUpward()
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
    case frozen(String)

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
        case let .frozen(path): return "'\(path)' belongs to a frozen model; edit a fresh copy (load it again) instead"
        }
    }
}
