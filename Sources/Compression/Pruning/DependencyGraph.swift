import Formats
import Layers
import Tensors

/// Which dimensions of a model must shrink together (Torch-Pruning's `DependencyGraph`, built from our module
/// kinds rather than traced): every ``PruningGroup`` the model has.
///
/// Sequential chains: a Dense's neurons or a Conv2D's out-channels are followed through BatchNorm (its four
/// vectors), activations, Dropout and pools (per-channel, so they carry the channel) and Flatten (channel `c` of an
/// (H, W, C) input becomes columns `p·C + c`, NHWC being channels-last) to the next Dense or Conv2D, whose input
/// axis shrinks with them. The last producer (the model's outputs) is not prunable, nor is a group whose channels
/// meet a softmax (it mixes them).
///
/// BERT: per layer, a heads group (query/key/value rows in blocks of the head size, their biases, and the
/// attention output projection's columns), an FFN group (intermediate rows and bias, output projection columns)
/// and one layers group over the encoder stack. The hidden size is coupled through every residual and is not pruned.
public enum DependencyGraph {
    /// The groups of `model`, in tree order. Throws when a module cannot be pruned structurally (quantized).
    public static func groups(of model: LoadedModel) throws -> [PruningGroup] {
        switch model.kind {
        case let .sequential(m): return try groups(of: m)
        case let .sentenceEncoder(bert, _, _): return try groups(of: bert)
        }
    }

    /// Groups of a layer chain (see the type's documentation).
    public static func groups(of model: SequentialModel) throws -> [PruningGroup] {
        var groups: [PruningGroup] = []
        // The group being followed: its producer's slices so far, and how its units map onto the current tensor's
        // last axis (one index per unit until a Flatten spreads each unit over the spatial positions).
        var open: (group: PruningGroup, mapping: [[Int]])?
        var shape = model.inputShape
        for layer in model.layers {
            let input = shape
            shape = try layer.outputShape(for: input)
            switch layer {
            case let dense as Linear:
                if var current = open {
                    current.group.slices.append(
                        CoupledSlice(parameter: dense.name + ".weight", axis: 1, indices: current.mapping, scored: true))
                    current.group.consumerInputs = [(dense.name, current.mapping)]
                    groups.append(current.group)
                }
                open = producer(dense.name, kind: .neurons, units: dense.outFeatures, hasBias: dense.useBias, weightAxis: 0)
                if dense.activation == .softmax { open = nil }
            case let conv as Conv2D:
                // A Conv2D can only consume per-channel units (not a flattened vector).
                if var current = open, current.mapping.allSatisfy({ $0.count == 1 }) {
                    current.group.slices.append(
                        CoupledSlice(parameter: conv.name + ".weight", axis: 3, indices: current.mapping, scored: true))
                    current.group.consumerInputs = [(conv.name, current.mapping)]
                    groups.append(current.group)
                }
                open = producer(conv.name, kind: .channels, units: conv.filters, hasBias: conv.useBias, weightAxis: 0)
                if conv.activation == .softmax { open = nil }
            case let bn as BatchNorm:
                guard var current = open, current.mapping.allSatisfy({ $0.count == 1 }) else { open = nil; break }
                for p in ["gamma", "beta", "mean", "variance"] {
                    current.group.slices.append(
                        CoupledSlice(parameter: bn.name + "." + p, axis: 0, indices: current.mapping, scored: p == "gamma"))
                }
                open = current
            case is Flatten:
                guard let current = open else { break }
                // (H, W, C) → H·W·C with index (p·C + c): unit c owns every p.
                let c = input.last ?? 1, positions = input.dropLast().reduce(1, *)
                open = (current.group, current.mapping.map { idx in (0..<positions).flatMap { p in idx.map { p * c + $0 } } })
            case let act as ActivationLayer:
                if act.activation == .softmax { open = nil }
            case is Dropout, is Pool2D, is GlobalAvgPool2D:
                break
            case let q as any QuantizedModule:
                throw CompressionError.pruning(
                    key: "structure", message: "'\(layer.name)' is already quantized (\(q.quantSpec.kind.rawValue)); prune before quantize")
            default:
                // A layer we do not know how to follow: the open group's dimension cannot be traced past it.
                open = nil
            }
        }
        // Whatever is still open feeds the model's outputs: not prunable.
        return groups
    }

    private static func producer(
        _ name: String, kind: PruningUnitKind, units: Int, hasBias: Bool, weightAxis: Int
    ) -> (group: PruningGroup, mapping: [[Int]]) {
        var slices = [CoupledSlice.blocks(name + ".weight", axis: weightAxis, units: units, scored: true)]
        if hasBias { slices.append(.blocks(name + ".bias", axis: 0, units: units, scored: false)) }
        return (PruningGroup(root: name, kind: kind, units: units, slices: slices), (0..<units).map { [$0] })
    }

    /// Groups of a BERT encoder: heads and FFN neurons per layer, then the layer stack.
    public static func groups(of bert: BertModel) throws -> [PruningGroup] {
        var groups: [PruningGroup] = []
        for (i, layer) in bert.layers.enumerated() {
            let p = "encoder.layer.\(i)."
            for (path, module) in layer.namedModules() where module is any QuantizedModule {
                throw CompressionError.pruning(key: "structure", message: "'\(p + path)' is already quantized; prune before quantize")
            }
            let s = layer.shape
            var heads: [CoupledSlice] = []
            for proj in ["query", "key", "value"] {
                heads.append(.blocks(p + "attention.self.\(proj).weight", axis: 0, units: s.heads, width: s.headSize, scored: true))
                heads.append(.blocks(p + "attention.self.\(proj).bias", axis: 0, units: s.heads, width: s.headSize, scored: false))
            }
            heads.append(.blocks(p + "attention.output.dense.weight", axis: 1, units: s.heads, width: s.headSize, scored: true))
            var headGroup = PruningGroup(root: p + "attention", kind: .heads, units: s.heads, slices: heads)
            headGroup.consumerInputs = [(p + "attention.output.dense", CoupledSlice.blocks("", axis: 0, units: s.heads, width: s.headSize, scored: false).indices)]
            groups.append(headGroup)
            let f = s.intermediateSize
            var ffn = PruningGroup(
                    root: p + "intermediate", kind: .neurons, units: f,
                    slices: [
                        .blocks(p + "intermediate.dense.weight", axis: 0, units: f, scored: true),
                        .blocks(p + "intermediate.dense.bias", axis: 0, units: f, scored: false),
                        .blocks(p + "output.dense.weight", axis: 1, units: f, scored: true),
                    ])
            ffn.consumerInputs = [(p + "output.dense", (0..<f).map { [$0] })]
            groups.append(ffn)
        }
        let n = bert.layers.count
        groups.append(
            PruningGroup(root: "encoder.layer", kind: .layers, units: n, slices: [], unitPaths: (0..<n).map { "encoder.layer.\($0)" }))
        return groups
    }
}
