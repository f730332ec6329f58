import Formats
import Foundation
import Layers
import Runtime
import ServingCore
import Tensors

/// Models shared by the serving tests, loaded and frozen once per process.
enum TestModels {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let cnn: LoadedModel = {
        let m = try! ModelLoader.load(repo.appendingPathComponent("Tests/Fixtures/keras/digits_cnn.keras").path)
        m.freeze()
        return m
    }()

    static let mlp: LoadedModel = {
        let m = try! ModelLoader.load(repo.appendingPathComponent("Tests/Fixtures/mlp/digits_mlp.safetensors").path)
        m.freeze()
        return m
    }()

    /// Fails (not skips) without the model, as the other MiniLM tests do.
    static let minilm: LoadedModel = {
        let m = try! ModelLoader.load(repo.appendingPathComponent("models/all-MiniLM-L6-v2").path)
        m.freeze()
        return m
    }()

    static var cnnItemShape: [Int] {
        guard case let .sequential(s) = cnn.kind else { fatalError("the digits CNN is sequential") }
        return s.inputShape
    }

    /// `n` deterministic items for the CNN, in [0, 1).
    static func cnnItems(_ n: Int, seed: Int = 0) -> (shape: [Int], values: [Float]) {
        let shape = [n] + cnnItemShape
        let count = shape.reduce(1, *)
        return (shape, (0..<count).map { Float(($0 * 7919 + seed * 104729) % 1000) / 1000 })
    }

    /// A CNN request of `n` items.
    static func cnnRequest(_ n: Int, seed: Int = 0, parameters: Parameters = [:]) -> InferRequest {
        let (shape, values) = cnnItems(n, seed: seed)
        return InferRequest(parameters: parameters, inputs: [InferInput(name: "x", datatype: .fp32, shape: shape, data: .fp32(values))])
    }

    /// A server over the CNN with `config`, loaded.
    static func cnnServer(_ config: ModelConfig, name: String = "cnn", inlineBelowNanoseconds: UInt64 = 0) async throws -> InferenceServer {
        var c = config
        if c.threads == nil { c.threads = 1 }
        var options = InferenceServer.Options()
        options.inlineComputeBelowNanoseconds = inlineBelowNanoseconds
        let server = InferenceServer(
            repository: ModelRepository(entries: [ModelEntry(name: name, config: c, source: .loaded(cnn))]), options: options)
        try await server.loadAll()
        return server
    }
}
