// swift-tools-version:6.0
// Layers (see STYLE.md): imports only go downward.
//   0  CKernels (C), COpenBLAS, CHDF5, CZstd, CZlibSystem; Console (progress reporting, no dependencies); Charts (SVG
//      charts, human units and HTML report pages for compare/run/bench reports, no dependencies)
//   1  Tensors
//   2  Tokenizers, Layers, Formats (Formats reads files into Layers' module trees)
//   2½ Runtime (runs a loaded model on an Executor: input preparation, forward passes)
//   3  Training (training forwards + backwards, losses, optimizers), Evaluation, Compression (siblings: none imports
//      another; Pipeline combines them)
//   4  Pipeline
//   5  ServingCore (KServe v2 protocol types, model repository, dynamic batcher, statistics; no HTTP), its sibling
//      adapters ServingREST (Hummingbird), ServingGRPC (grpc-swift 2) and ServingMetrics (Prometheus), ServingQueue
//      (durable job queue for async inference: SQLite via GRDB, Redis Streams via hiredis; knows nothing of models)
//   5½ ServingAsync (async inference over ServingCore + ServingQueue: accepting jobs, the queue worker, callbacks;
//      ServingREST and ServingGRPC adapt it)
//   6  CompressCLI (the `compress` executable: commands only)
import PackageDescription

let package = Package(
    name: "compress",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "compress", targets: ["CompressCLI"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Layer 0: C.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // zlib's inflate for gzipped datasets (IDX). Not `CZlib`: ZIPFoundation already declares a module of that name.
        .systemLibrary(name: "CZlibSystem", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // Progress bars and lines on stderr; below everything that reports progress.
        .target(name: "Console"),
        .target(name: "Charts"),
        // Layer 1.
        .target(name: "Tensors", dependencies: ["CKernels", "COpenBLAS"]),
        // Layer 2.
        .target(name: "Tokenizers"),
        .target(name: "Layers", dependencies: ["Tensors", "CKernels"]),
        .target(
            name: "Formats",
            dependencies: [
                "Tensors", "Layers", "Tokenizers", "CHDF5", "CZstd", "CZlibSystem",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]),
        .target(name: "Runtime", dependencies: ["Formats", "Layers", "Tensors", "Tokenizers"]),
        // Layer 3.
        .target(name: "Evaluation", dependencies: ["Console", "Runtime", "Formats", "Layers", "Tensors", "Tokenizers"]),
        .target(name: "Compression", dependencies: ["Console", "Runtime", "Formats", "Layers", "Tensors", "CKernels", "COpenBLAS"]),
        .target(name: "Training", dependencies: ["Console", "Formats", "Layers", "Tensors", "CKernels", "COpenBLAS"]),
        // Layer 4.
        .target(
            name: "Pipeline",
            dependencies: [
                "Charts", "Compression", "Console", "Evaluation", "Training", "Runtime", "Formats", "Layers", "Tensors", "Tokenizers",
                .product(name: "Yams", package: "Yams"),
            ]),
        // Layer 5: serving. The core knows the protocol, the repository and the batcher; transports adapt it.
        .target(
            name: "ServingCore",
            dependencies: [
                "Runtime", "Formats", "Layers", "Tensors", "Tokenizers",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(
            name: "ServingREST",
            dependencies: [
                "ServingCore", "ServingAsync", "ServingQueue",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Async inference's job queue: one protocol, an embedded SQLite backend and a Redis Streams backend.
        .target(name: "ServingQueue", dependencies: ["CHiredis", .product(name: "GRDB", package: "GRDB.swift")]),
        // Async inference over the queue: accepting jobs, the worker that runs them through the batcher, callbacks.
        // Wire formats come from the transports (JobCodec), so it sits under ServingREST and ServingGRPC.
        .target(
            name: "ServingAsync",
            dependencies: [
                "ServingCore", "ServingQueue",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // Layer 5: the load generator (`compress bench`). A client of the protocol: it reads ServingCore's message
        // types, never its server.
        .target(
            name: "Bench",
            dependencies: [
                "ServingCore", "InferenceGRPCProtocol", "Pipeline", "Charts", "Console", "Evaluation", "Runtime", "Formats", "Tensors",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        // The Open Inference Protocol's gRPC messages, client and service stubs, and compress.v1's async service:
        // Generated/ holds the code protoc made from Protos/inference and Protos/compress (committed;
        // tools/generate_grpc.sh regenerates it, so no build runs the protobuf plugins). Its own target so the load
        // generator speaks gRPC without linking the server.
        .target(
            name: "InferenceGRPCProtocol",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]),
        // gRPC adapter (grpc-swift 2) over ServingCore.
        .target(
            name: "ServingGRPC",
            dependencies: [
                "ServingCore", "ServingAsync", "InferenceGRPCProtocol",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // Prometheus metrics on their own port (Triton's 8002), from the core's statistics recorder.
        .target(
            name: "ServingMetrics",
            dependencies: [
                "ServingCore",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Layer 6.
        .executableTarget(
            name: "CompressCLI",
            dependencies: [
                "ServingCore", "ServingREST", "ServingGRPC", "ServingMetrics", "ServingAsync", "ServingQueue", "Bench",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                "Pipeline", "Compression", "Console", "Evaluation", "Runtime", "Formats", "Layers", "Tensors", "Tokenizers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "CKernelsTests", dependencies: ["CKernels"]),
        .testTarget(name: "ConsoleTests", dependencies: ["Console"]),
        .testTarget(name: "ChartsTests", dependencies: ["Charts"]),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "CKernels"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers"]),
        .testTarget(name: "LayersTests", dependencies: ["Layers", "Tensors"]),
        .testTarget(
            name: "FormatsTests",
            dependencies: [
                "Formats", "Runtime", "Layers", "Tensors", "Tokenizers", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Compression", "Evaluation", "Formats", "Layers", "Tensors"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Runtime", "Formats", "Tensors"]),
        .testTarget(name: "CompressionTests", dependencies: ["Compression", "Runtime", "Formats", "Layers", "Tensors", "CKernels"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Formats", "Layers", "Tensors", "CKernels"]),
        .testTarget(
            name: "PipelineTests",
            dependencies: ["Pipeline", "Compression", "Console", "Evaluation", "Training", "Runtime", "Formats", "Layers", "Tensors"]),
        .testTarget(name: "ServingCoreTests", dependencies: ["ServingCore", "Runtime", "Formats", "Tensors"]),
        // Helpers the queue suites share (a private redis-server on loopback); a plain target, since test targets
        // cannot share sources.
        .target(name: "QueueTestSupport", dependencies: ["ServingQueue"], path: "Tests/QueueTestSupport"),
        .testTarget(name: "ServingQueueTests", dependencies: ["ServingQueue", "QueueTestSupport"]),
        .testTarget(
            name: "ServingAsyncTests",
            dependencies: [
                "ServingAsync", "ServingREST", "ServingGRPC", "ServingMetrics", "InferenceGRPCProtocol", "ServingQueue", "QueueTestSupport",
                "ServingCore", "Runtime", "Formats",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "ServingRESTTests",
            dependencies: [
                "ServingREST", "ServingCore", "Runtime", "Formats", "Tensors",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]),
        .testTarget(
            name: "BenchTests",
            dependencies: [
                "Bench", "ServingCore", "ServingREST", "ServingGRPC", "Evaluation", "Runtime", "Formats", "Layers", "Tensors",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),
        .testTarget(
            name: "ServingGRPCTests",
            dependencies: [
                "ServingGRPC", "InferenceGRPCProtocol", "ServingCore", "Runtime", "Formats", "Tensors",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .testTarget(
            name: "ServingMetricsTests",
            dependencies: [
                "ServingMetrics", "ServingCore", "Runtime", "Formats", "Tensors",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)

// COMPRESS_ENGINE_ONLY=1 (used by `make tsan`): the engine's targets and tests only. The thread-sanitizer suites check
// executors and frozen models; the server stack (NIO, Hummingbird, grpc-swift with a second BoringSSL, GRDB) would
// double that build for suites it does not run (measured: the gRPC stack alone adds ~300 s to a clean debug build).
if Context.environment["COMPRESS_ENGINE_ONLY"] != nil {
    let server: Set<String> = [
        "ServingCore", "ServingREST", "ServingGRPC", "ServingMetrics", "ServingQueue", "ServingAsync", "InferenceGRPCProtocol", "Bench",
        "CompressCLI", "CHiredis", "QueueTestSupport",
    ]
    package.targets.removeAll { server.contains($0.name) || ($0.name.hasSuffix("Tests") && server.contains(String($0.name.dropLast(5)))) }
    package.products.removeAll { $0.name == "compress" }
}

// Benchmarks stay out of the default build and out of tests (STYLE rule 11): set COMPRESS_BENCHMARKS=1 to add them.
if Context.environment["COMPRESS_BENCHMARKS"] != nil {
    package.targets.append(
        .executableTarget(name: "TrainingBench", dependencies: ["Training", "Layers", "Tensors"], path: "Benchmarks/TrainingBench"))
}

// Fuzz targets (libFuzzer), only when COMPRESS_FUZZ is set, so the default build never compiles them (they need
// `--sanitize=fuzzer`, which links libFuzzer's own main). `make fuzz` builds and runs them; see fuzz/README.md.
if Context.environment["COMPRESS_FUZZ"] != nil {
    let fuzzTargets: [(String, [Target.Dependency])] = [
        ("FuzzSafeTensors", ["Formats"]), ("FuzzKeras", ["Formats"]), ("FuzzManifest", ["Formats"]),
        ("FuzzRecipe", ["Pipeline"]), ("FuzzTokenizer", ["Tokenizers"]),
    ]
    for (name, dependencies) in fuzzTargets {
        package.targets.append(
            .executableTarget(
                name: name, dependencies: dependencies, path: "fuzz/Sources/\(name)",
                // No top-level code: libFuzzer supplies main() and calls LLVMFuzzerTestOneInput.
                swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
    }
}
