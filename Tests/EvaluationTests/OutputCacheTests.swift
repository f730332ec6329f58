import Evaluation
import Formats
import Foundation
import Tensors
import Testing

/// The source model's outputs are computed once per recipe run and reused by every stage that compares against it.
struct OutputCacheTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func cachedReferenceOutputsAreReusedNotRecomputed() throws {
        let model = try ModelLoader.load(Self.repo.path + "/Tests/Fixtures/keras/digits_cnn.keras")
        let data = try EvalData.load(Self.repo.path + "/datasets/digits/test.h5")
        var options = Evaluator.Options()
        options.skipTiming = true
        let evaluator = Evaluator(options: options, executor: testExecutor)
        let cache = OutputCache()
        let first = try evaluator.evaluate(model, data: [data], modelCache: cache)
        #expect(cache.specs == [data.spec])

        // Change the model after its outputs were cached: against the cache it no longer matches itself, while an
        // uncached comparison recomputes both sides. So the second call read the cache and ran no reference pass.
        var params: [String: Tensor] = [:]
        for (path, t) in model.root.namedParameters() {
            var flipped = t
            if path.hasSuffix("kernel") || path.hasSuffix("weight") {
                flipped.withUnsafeMutableFloats { p in for i in 0..<p.count { p[i] = -p[i] } }
            }
            params[path] = flipped
        }
        try model.root.update(parameters: params)
        let fromCache = try evaluator.evaluate(model, data: [data], reference: model, referenceCache: cache)
        let fresh = try evaluator.evaluate(model, data: [data], reference: model)
        #expect(abs(fresh.fidelity!.cosineMean - 1) < 1e-6)
        #expect(fromCache.fidelity!.cosineMean < 0.99)
        #expect(first.accuracy != fromCache.accuracy)
    }
}
