import Formats
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import InferenceGRPCProtocol
import Logging
import Runtime
import ServingCore
import ServingGRPC
import Tensors

/// Models and a loopback server + client shared by the gRPC tests.
enum Fixtures {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let cnn: LoadedModel = {
        let m = try! ModelLoader.load(repo.appendingPathComponent("Tests/Fixtures/keras/digits_cnn.keras").path)
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
        guard case let .sequential(s) = cnn.kind else { fatalError("sequential") }
        return s.inputShape
    }

    static func cnnValues(_ n: Int, seed: Int = 0) -> [Float] {
        let count = n * cnnItemShape.reduce(1, *)
        return (0..<count).map { Float(($0 * 7919 + seed * 104729) % 1000) / 1000 }
    }

    /// What the engine answers in process for `n` CNN items (the reference the served outputs must equal).
    static func cnnExpected(_ n: Int, seed: Int = 0) throws -> [Float] {
        try cnn.run(.tensor(Tensor(shape: [n] + cnnItemShape, floats: cnnValues(n, seed: seed))), on: Executor(threads: 1)).toFloat32().floats
    }

    static func server(_ entries: [ModelEntry]) async throws -> InferenceServer {
        let server = InferenceServer(repository: ModelRepository(entries: entries), options: .init(threadsPerInstance: 1))
        try await server.loadAll()
        return server
    }

    static func cnnEntry(_ config: ModelConfig = ModelConfig(maxBatchSize: 8)) -> ModelEntry {
        ModelEntry(name: "cnn", config: config, source: .loaded(cnn))
    }

    /// Runs `body` with a generated client connected over 127.0.0.1 to a gRPC server (ephemeral port) for `server`,
    /// then stops both (the server gracefully).
    static func withLoopback<R: Sendable>(
        _ server: InferenceServer, authToken: String? = nil,
        _ body: @Sendable (Inference_GRPCInferenceService.Client<HTTP2ClientTransport.Posix>, GRPCClient<HTTP2ClientTransport.Posix>, Int)
            async throws -> R
    ) async throws -> R {
        let grpc = GRPCInferenceServer(server: server, host: "127.0.0.1", port: 0, authToken: authToken, logger: Logger(label: "test"))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await grpc.run() }
            // Stop the server whether the body passed or threw, or the group would wait for it forever.
            do {
                let port = try await grpc.port
                let transport = try HTTP2ClientTransport.Posix(
                    target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
                let result = try await withGRPCClient(transport: transport) { client in
                    try await body(Inference_GRPCInferenceService.Client(wrapping: client), client, port)
                }
                grpc.beginGracefulShutdown()
                try await group.waitForAll()
                return result
            } catch {
                grpc.beginGracefulShutdown()
                throw error
            }
        }
    }

    /// A CNN ModelInfer request of `n` items, typed (`fp32_contents`) or raw (`raw_input_contents`).
    static func cnnRequest(_ n: Int, raw: Bool, seed: Int = 0, id: String = "") -> Inference_ModelInferRequest {
        var r = Inference_ModelInferRequest()
        r.modelName = "cnn"
        r.id = id
        var x = Inference_ModelInferRequest.InferInputTensor()
        x.name = "x"
        x.datatype = "FP32"
        x.shape = ([n] + cnnItemShape).map(Int64.init)
        let values = cnnValues(n, seed: seed)
        if raw {
            r.rawInputContents = [Data(littleEndianBytes(values))]
        } else {
            x.contents.fp32Contents = values
        }
        r.inputs = [x]
        return r
    }
}

func littleEndianBytes(_ floats: [Float]) -> [UInt8] { floats.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }

func floats(fromLittleEndian data: Data) -> [Float] {
    let a = Array(data)
    return stride(from: 0, to: a.count, by: 4).map { i in
        Float(bitPattern: UInt32(a[i]) | UInt32(a[i + 1]) << 8 | UInt32(a[i + 2]) << 16 | UInt32(a[i + 3]) << 24)
    }
}

/// Sends bytes as they are (to put truncated or garbage messages on the wire).
struct RawSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
}

struct RawDeserializer: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> [UInt8] { bytes.withUnsafeBytes { Array($0) } }
}

/// The status code of the error `body` throws (nil if it succeeds or throws something else).
func rpcCode(_ body: () async throws -> Void) async -> RPCError.Code? {
    do {
        try await body()
        return nil
    } catch let e as RPCError {
        return e.code
    } catch {
        return nil
    }
}

/// The RPCError `body` throws.
func rpcError(_ body: () async throws -> Void) async -> RPCError? {
    do {
        try await body()
        return nil
    } catch let e as RPCError {
        return e
    } catch {
        return nil
    }
}
