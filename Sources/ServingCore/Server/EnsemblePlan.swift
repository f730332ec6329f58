/// A validated ensemble (`platform: ensemble`): its steps as a DAG over named tensors, checked when the ensemble
/// loads so that a wrong config fails then, naming the step, rather than on a request.
///
/// ```yaml
/// platform: ensemble
/// ensemble_scheduling:
///   step:
///     - {model_name: minilm-tokenizer, input_map: {text: text}, output_map: {input_ids: ids, attention_mask: mask}}
///     - {model_name: minilm-encoder, input_map: {input_ids: ids, attention_mask: mask}, output_map: {last_hidden_state: hidden}}
///     - {model_name: minilm-pooling, input_map: {last_hidden_state: hidden, attention_mask: mask}, output_map: {embeddings: embeddings}}
/// ```
///
/// The ensemble's inputs are the tensors steps read that no step writes, its outputs the tensors steps write that no
/// step reads (or Triton's `input` / `output` lists when given, which are then checked against the steps).
public struct EnsemblePlan: Sendable {
    public struct Step: Sendable {
        /// Position in the config (errors and stats name it).
        public var index: Int
        public var model: String
        /// Step model input → ensemble tensor.
        public var inputMap: [String: String]
        /// Step model output → ensemble tensor.
        public var outputMap: [String: String]
        /// Indices of the steps whose outputs it reads.
        public var dependencies: Set<Int>
    }

    public let name: String
    /// Steps in an order where each comes after those it depends on.
    public let steps: [Step]
    public let inputs: [TensorMetadata]
    public let outputs: [TensorMetadata]

    /// Checks `config`'s steps against the served models (`lookup` gives a loaded model's signature, nil when it is
    /// not loaded); errors name the step and tensor.
    public static func build(name: String, config: ModelConfig, lookup: (String) -> ServedModel?) throws(InferenceError) -> EnsemblePlan {
        let raw = config.ensembleScheduling?.step ?? []
        guard !raw.isEmpty else { throw .invalidArgument("ensemble '\(name)': ensemble_scheduling.step is empty") }
        func stepName(_ i: Int) -> String { "ensemble '\(name)' step \(i + 1) (model '\(raw[i].modelName)')" }

        var models: [ServedModel] = []
        var producer: [String: (step: Int, meta: TensorMetadata)] = [:]
        for (i, s) in raw.enumerated() {
            if s.modelName == name { throw .invalidArgument("\(stepName(i)): an ensemble cannot call itself (a cycle)") }
            guard let m = lookup(s.modelName) else {
                throw .invalidArgument("\(stepName(i)): model '\(s.modelName)' is not in the repository or not loaded")
            }
            for k in s.inputMap.keys where !m.inputs.contains(where: { $0.name == k }) {
                throw .invalidArgument(
                    "\(stepName(i)): input_map names '\(k)', which the model does not take (it takes \(m.inputs.map { "'\($0.name)'" }.joined(separator: ", ")))")
            }
            for input in m.inputs where !m.optionalInputs.contains(input.name) && s.inputMap[input.name] == nil {
                throw .invalidArgument("\(stepName(i)): the model's input '\(input.name)' is missing from input_map")
            }
            if s.inputMap.isEmpty { throw .invalidArgument("\(stepName(i)): input_map is empty") }
            for (k, tensor) in s.outputMap {
                guard let meta = m.outputs.first(where: { $0.name == k }) else {
                    throw .invalidArgument(
                        "\(stepName(i)): output_map names '\(k)', which the model does not return (it returns \(m.outputs.map { "'\($0.name)'" }.joined(separator: ", ")))")
                }
                if let other = producer[tensor] {
                    throw .invalidArgument("\(stepName(i)): tensor '\(tensor)' is already written by \(stepName(other.step))")
                }
                producer[tensor] = (i, meta)
            }
            models.append(m)
        }

        // Ensemble inputs: declared, or every tensor read that no step writes (typed by its first reader).
        var ensembleInputs: [TensorMetadata] = []
        if let declared = config.input {
            ensembleInputs = try declared.map { t throws(InferenceError) in try metadata(t, ensemble: name) }
        }
        for (i, s) in raw.enumerated() {
            for (k, tensor) in s.inputMap.sorted(by: { $0.key < $1.key }) {
                let expected = models[i].inputs.first { $0.name == k }!
                let source: TensorMetadata
                if let p = producer[tensor] {
                    source = p.meta
                } else if let e = ensembleInputs.first(where: { $0.name == tensor }) {
                    source = e
                } else if config.input == nil {
                    source = TensorMetadata(name: tensor, datatype: expected.datatype, shape: expected.shape)
                    ensembleInputs.append(source)
                } else {
                    throw .invalidArgument("\(stepName(i)): reads tensor '\(tensor)', which no step writes and the ensemble's input does not list")
                }
                guard source.datatype == expected.datatype, compatible(source.shape, expected.shape) else {
                    throw .invalidArgument(
                        "\(stepName(i)): input '\(k)' takes \(expected.datatype.rawValue) \(expected.shape), but tensor '\(tensor)' is \(source.datatype.rawValue) \(source.shape)")
                }
            }
        }

        // Order: Kahn's algorithm; whatever cannot be ordered is on a cycle.
        var deps: [Set<Int>] = raw.map { s in Set(s.inputMap.values.compactMap { producer[$0]?.step }) }
        for (i, d) in deps.enumerated() where d.contains(i) {
            throw .invalidArgument("\(stepName(i)): reads its own output (a cycle)")
        }
        let allDeps = deps
        var order: [Int] = []
        var remaining = Set(raw.indices)
        while !remaining.isEmpty {
            let ready = remaining.filter { deps[$0].isEmpty }.sorted()
            guard !ready.isEmpty else {
                let cycle = remaining.sorted().map(stepName).joined(separator: ", ")
                throw .invalidArgument("ensemble '\(name)': the steps form a cycle: \(cycle)")
            }
            for r in ready {
                order.append(r)
                remaining.remove(r)
                for j in remaining { deps[j].remove(r) }
            }
        }

        // Outputs: declared (each must be written), else every tensor written that no step reads.
        let read = Set(raw.flatMap { $0.inputMap.values })
        var ensembleOutputs: [TensorMetadata] = []
        if let declared = config.output {
            for t in declared {
                let want = try metadata(t, ensemble: name)
                guard let p = producer[t.name] else { throw .invalidArgument("ensemble '\(name)': output '\(t.name)' is written by no step") }
                guard p.meta.datatype == want.datatype, compatible(p.meta.shape, want.shape) else {
                    throw .invalidArgument(
                        "ensemble '\(name)': output '\(t.name)' is declared \(want.datatype.rawValue) \(want.shape), but \(stepName(p.step)) writes \(p.meta.datatype.rawValue) \(p.meta.shape)")
                }
                ensembleOutputs.append(TensorMetadata(name: t.name, datatype: p.meta.datatype, shape: p.meta.shape))
            }
        } else {
            for (tensor, p) in producer.sorted(by: { $0.key < $1.key }) where !read.contains(tensor) {
                ensembleOutputs.append(TensorMetadata(name: tensor, datatype: p.meta.datatype, shape: p.meta.shape))
            }
        }
        if ensembleOutputs.isEmpty { throw .invalidArgument("ensemble '\(name)': no step writes a tensor that is not read again (no output)") }

        let steps = order.map { i in
            Step(index: i, model: raw[i].modelName, inputMap: raw[i].inputMap, outputMap: raw[i].outputMap, dependencies: allDeps[i])
        }
        return EnsemblePlan(name: name, steps: steps, inputs: ensembleInputs, outputs: ensembleOutputs)
    }

    /// Same rank, and equal dimensions where neither is -1 (any size).
    static func compatible(_ a: [Int], _ b: [Int]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0 == -1 || $1 == -1 || $0 == $1 }
    }

    /// A declared tensor as metadata (batch axis -1 in front, as metadata writes it).
    static func metadata(_ t: ModelConfig.TensorConfig, ensemble: String) throws(InferenceError) -> TensorMetadata {
        let raw = t.dataType.hasPrefix("TYPE_") ? String(t.dataType.dropFirst(5)) : t.dataType
        guard let type = raw == "STRING" ? TensorDataType.bytes : TensorDataType(rawValue: raw) else {
            throw .invalidArgument("ensemble '\(ensemble)': tensor '\(t.name)' has unknown data_type '\(t.dataType)'")
        }
        return TensorMetadata(name: t.name, datatype: type, shape: [-1] + t.dims)
    }
}
