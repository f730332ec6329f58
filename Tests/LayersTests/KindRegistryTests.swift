import Foundation
import Layers
import Testing

/// Every layer and quantized-module kind is built by the type its registry names, and survives spec → module → spec.
struct KindRegistryTests {
    /// One spec per layer kind, on an (8, 8, 4) input.
    static let specs: [LayerSpec] = LayerKind.allCases.map { kind in
        switch kind {
        case .dense: LayerSpec(type: kind, name: "d", inFeatures: 4, outFeatures: 3, activation: .relu, useBias: true)
        case .conv2d:
            LayerSpec(
                type: kind, name: "c", inFeatures: 4, outFeatures: 2, kernelSize: [3, 3], strides: [1, 1], padding: .same,
                activation: .linear, useBias: false)
        case .maxPool2d, .avgPool2d: LayerSpec(type: kind, name: "p", kernelSize: [2, 2], strides: [2, 2], padding: .valid)
        case .globalAvgPool2d, .flatten: LayerSpec(type: kind, name: "g")
        case .batchNorm: LayerSpec(type: kind, name: "bn", outFeatures: 4, epsilon: 1e-3)
        case .dropout: LayerSpec(type: kind, name: "drop", rate: 0.5)
        case .activation: LayerSpec(type: kind, name: "act", activation: .tanh)
        }
    }

    @Test(arguments: specs)
    func layerSpecRoundTrips(_ spec: LayerSpec) throws {
        let layer = try SequentialModel.makeLayer(spec, inputShape: [8, 8, 4])
        #expect(type(of: layer) == spec.type.builder)
        #expect(layer.spec == spec)
        let json = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(LayerSpec.self, from: json) == spec)
    }

    @Test(arguments: QuantizedModuleKind.allCases)
    func quantizedModuleSpecRoundTrips(_ kind: QuantizedModuleKind) throws {
        var spec = QuantizedModuleSpec(
            kind: kind, name: kind == .int8Embedding ? "" : "m", inFeatures: 64, outFeatures: 8, useBias: kind != .int8Embedding,
            activation: .linear, activationMode: kind.bits == 8 && kind != .int8Embedding ? .dynamic : nil,
            groupSize: kind == .int4Linear ? 32 : nil, method: kind == .int8Embedding ? nil : .gptq)
        if kind == .int8Conv2d { spec.conv = .init(inChannels: 4, kernelSize: [4, 4], strides: [1, 1], padding: .same) }
        if kind == .int8Embedding { spec.useBias = false }
        let module = try spec.makeModule()
        let q = try #require(module as? any QuantizedModule)
        #expect(type(of: q) == kind.moduleType)
        #expect(q.quantSpec == spec)
        #expect(kind.bits == (kind == .int4Linear ? 4 : 8))
    }
}
