/// Server metadata (`GET /v2`): name, version and the protocol extensions supported.
public struct ServerMetadata: Sendable, Equatable, Codable {
    public var name: String
    public var version: String
    public var extensions: [String]

    public init(name: String, version: String, extensions: [String]) {
        self.name = name
        self.version = version
        self.extensions = extensions
    }
}

/// A tensor in model metadata: `-1` marks a dimension of any size (the batch axis, sequence length).
public struct TensorMetadata: Sendable, Equatable, Codable {
    public var name: String
    public var datatype: TensorDataType
    public var shape: [Int]

    public init(name: String, datatype: TensorDataType, shape: [Int]) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
    }
}

/// Model metadata (`GET /v2/models/{m}`).
public struct ModelMetadata: Sendable, Equatable, Codable {
    public var name: String
    public var versions: [String]
    public var platform: String
    public var inputs: [TensorMetadata]
    public var outputs: [TensorMetadata]

    public init(name: String, versions: [String], platform: String, inputs: [TensorMetadata], outputs: [TensorMetadata]) {
        self.name = name
        self.versions = versions
        self.platform = platform
        self.inputs = inputs
        self.outputs = outputs
    }
}

/// One row of the repository index (`POST /v2/repository/index`), as Triton writes it.
public struct RepositoryIndexEntry: Sendable, Equatable, Codable {
    public var name: String
    public var version: String?
    /// `READY`, `LOADING`, `UNLOADING`, `UNAVAILABLE`.
    public var state: String
    public var reason: String

    public init(name: String, version: String?, state: String, reason: String) {
        self.name = name
        self.version = version
        self.state = state
        self.reason = reason
    }
}
