import GRPCCore
import GRPCInProcessTransport
import InferenceGRPCProtocol
import ServingCore
import ServingGRPC
import Testing

/// The service over grpc-swift's in-process transport (no sockets): the adapter alone, as Hummingbird's router
/// tests check the REST one.
@Suite struct GRPCInProcessTests {
    @Test func inferAndMetadataInProcess() async throws {
        let server = try await Fixtures.server([Fixtures.cnnEntry()])
        let expected = try Fixtures.cnnExpected(2)
        let transport = InProcessTransport()
        let grpc = GRPCServer(transport: transport.server, services: [InferenceService(server: server)])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await grpc.serve() }
            defer { grpc.beginGracefulShutdown() }
            try await withGRPCClient(transport: transport.client) { raw in
                let client = Inference_GRPCInferenceService.Client(wrapping: raw)
                var m = Inference_ModelMetadataRequest()
                m.name = "cnn"
                #expect(try await client.modelMetadata(m).platform == "compress_sequential")
                let answer = try await client.modelInfer(Fixtures.cnnRequest(2, raw: false))
                #expect(floats(fromLittleEndian: answer.rawOutputContents[0]) == expected)
            }
        }
        await server.shutdown()
    }
}
