import Formats
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Runtime
import ServingCore
import ServingREST
import Tensors

/// Models and servers shared by the REST tests.
enum Fixtures {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let cnnPath = repo.appendingPathComponent("Tests/Fixtures/keras/digits_cnn.keras").path
    static let minilmPath = repo.appendingPathComponent("models/all-MiniLM-L6-v2").path

    static let cnn: LoadedModel = {
        let m = try! ModelLoader.load(cnnPath)
        m.freeze()
        return m
    }()

    /// Fails (not skips) without the model, as the other MiniLM tests do.
    static let minilm: LoadedModel = {
        let m = try! ModelLoader.load(minilmPath)
        m.freeze()
        return m
    }()

    static var cnnItemShape: [Int] {
        guard case let .sequential(s) = cnn.kind else { fatalError("sequential") }
        return s.inputShape
    }

    static func cnnValues(_ n: Int, seed: Int = 0) -> [Float] {
        let count = n * cnnItemShape.reduce(1, *)
        return (0..<count).map { Float(($0 * 7919 + seed * 104729) % 1000) / 1000 }
    }

    /// A loaded server over `entries` (threads 1 per instance).
    static func server(_ entries: [ModelEntry]) async throws -> InferenceServer {
        let server = InferenceServer(repository: ModelRepository(entries: entries), options: .init(threadsPerInstance: 1))
        try await server.loadAll()
        return server
    }

    static func cnnServer(_ config: ModelConfig = ModelConfig(maxBatchSize: 8)) async throws -> InferenceServer {
        try await server([ModelEntry(name: "cnn", config: config, source: .loaded(cnn))])
    }

    static func app(_ server: InferenceServer, maxBodyBytes: Int = 64 << 20, authToken: String? = nil) -> some ApplicationProtocol {
        Application(router: RESTServer.router(for: server, maxBodyBytes: maxBodyBytes, authToken: authToken))
    }

    /// Tests/Fixtures/serving-repository (ensembles, steps, canary), loaded once per process.
    static let exampleRepository = Task {
        let s = InferenceServer(
            repository: try ModelRepository.open(repo.appendingPathComponent("Tests/Fixtures/serving-repository").path),
            options: .init(threadsPerInstance: 1))
        try await s.loadAll()
        return s
    }
}

extension HTTPField.Name {
    static let inferenceHeader = Self("Inference-Header-Content-Length")!
    static let requestID = Self("X-Request-ID")!
}

/// JSON helpers for response bodies.
func json(_ buffer: ByteBuffer) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any] ?? [:]
}

func jsonBody(_ object: Any) -> ByteBuffer {
    ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
}

/// A binary-extension body: the JSON header followed by `binary`, and the header's length.
func binaryBody(_ header: Any, _ binary: [UInt8]) -> (ByteBuffer, Int) {
    let h = try! JSONSerialization.data(withJSONObject: header)
    return (ByteBuffer(bytes: Array(h) + binary), h.count)
}

func littleEndianBytes(_ floats: [Float]) -> [UInt8] { floats.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }

func floats(fromLittleEndian bytes: some Collection<UInt8>) -> [Float] {
    let a = Array(bytes)
    return stride(from: 0, to: a.count, by: 4).map { i in
        Float(bitPattern: UInt32(a[i]) | UInt32(a[i + 1]) << 8 | UInt32(a[i + 2]) << 16 | UInt32(a[i + 3]) << 24)
    }
}
