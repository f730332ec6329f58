/// One input tensor of an inference request, with its data already decoded from JSON or binary form.
public struct InferInput: Sendable, Equatable {
    public var name: String
    public var datatype: TensorDataType
    /// Dimensions, the first one being the batch (item) axis for batched models.
    public var shape: [Int]
    public var parameters: Parameters
    public var data: TensorData

    public init(name: String, datatype: TensorDataType, shape: [Int], parameters: Parameters = [:], data: TensorData) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.parameters = parameters
        self.data = data
    }
}

/// An output the client asks for (all outputs when the request names none).
public struct RequestedOutput: Sendable, Equatable, Codable {
    public var name: String
    /// `binary_data: true` asks for the binary form (REST binary extension).
    public var parameters: Parameters?

    public init(name: String, parameters: Parameters? = nil) {
        self.name = name
        self.parameters = parameters
    }
}

/// An inference request (`$inference_request`): the model is named by the transport (URL or gRPC field).
///
/// Request `parameters` the core reads (Triton's schedule policy extension): `priority` (1 is highest) and
/// `timeout` (microseconds in the queue, when the model's queue policy allows overriding it).
public struct InferRequest: Sendable, Equatable {
    public var id: String?
    public var parameters: Parameters
    public var inputs: [InferInput]
    public var outputs: [RequestedOutput]?

    public init(id: String? = nil, parameters: Parameters = [:], inputs: [InferInput], outputs: [RequestedOutput]? = nil) {
        self.id = id
        self.parameters = parameters
        self.inputs = inputs
        self.outputs = outputs
    }
}

/// One output tensor of a response.
public struct InferOutput: Sendable, Equatable {
    public var name: String
    public var datatype: TensorDataType
    public var shape: [Int]
    public var parameters: Parameters
    public var data: TensorData

    public init(name: String, datatype: TensorDataType, shape: [Int], parameters: Parameters = [:], data: TensorData) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.parameters = parameters
        self.data = data
    }
}

/// An inference response (`$inference_response`).
public struct InferResponse: Sendable, Equatable {
    public var modelName: String
    public var modelVersion: String?
    public var id: String?
    public var parameters: Parameters
    public var outputs: [InferOutput]

    public init(modelName: String, modelVersion: String?, id: String?, parameters: Parameters = [:], outputs: [InferOutput]) {
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.id = id
        self.parameters = parameters
        self.outputs = outputs
    }
}
