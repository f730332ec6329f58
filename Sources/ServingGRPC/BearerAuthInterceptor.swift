import GRPCCore

/// Optional bearer-token auth for gRPC, as REST has it: every RPC but ServerLive and ServerReady (the health
/// checks) needs `authorization: Bearer <token>` metadata, else UNAUTHENTICATED. tritonclient.grpc sends it with
/// `headers={"authorization": "Bearer ..."}`.
struct BearerAuthInterceptor: ServerInterceptor {
    let token: [UInt8]

    static let open: Set<String> = ["ServerLive", "ServerReady"]

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        if Self.open.contains(context.descriptor.method) { return try await next(request, context) }
        let given = request.metadata[stringValues: "authorization"].first(where: { _ in true }).flatMap { h -> Substring? in
            let parts = h.split(separator: " ", maxSplits: 1)
            return parts.count == 2 && parts[0].lowercased() == "bearer" ? parts[1].drop { $0 == " " } : nil
        }
        guard let given, Self.constantTimeEqual(Array(given.utf8), token) else {
            throw RPCError(
                code: .unauthenticated,
                message: given == nil ? "this server needs an authorization: Bearer token" : "the bearer token is not valid")
        }
        return try await next(request, context)
    }

    /// Compares without returning early at the first difference (the time taken says nothing about the token).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) { diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0) }
        return diff == 0
    }
}
