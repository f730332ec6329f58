import Compression
import Evaluation
import Formats
import Foundation
import Runtime
import Tensors

/// `- export: {zstd: true}`: writes the model as an artifact under `model/` in the run directory, reloads it,
/// and records the largest output difference to the in-memory model (0 when the round trip is exact).
public struct ExportStage: RecipeStage {
    public static let name = "export"
    public static var defaultConfig: ExportStage? { ExportStage() }

    /// Store weights as `model.safetensors.zst`.
    public var zstd: Bool?

    public init(zstd: Bool? = nil) { self.zstd = zstd }

    enum CodingKeys: String, CodingKey, CaseIterable { case zstd }
    public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }

    public func run(_ context: inout StageContext) throws -> StageRecord {
        let provenance = ArtifactManifest.Provenance(
            source: context.recipe.model, sourceSha256: context.sourceSha256, recipe: context.recipePath, toolVersion: compressToolVersion,
            createdAt: ISO8601DateFormatter().string(from: Date()), stages: context.recipe.stages.prefix(context.index).map { $0.name })
        let artifactDir = context.directory.appendingPathComponent("model")
        try Artifact.write(context.model, to: artifactDir, provenance: provenance, zstd: zstd ?? false)
        var record = context.record(self)
        record.artifact = "model"
        record.roundtripMaxAbsDiff = try Self.roundTripDifference(context.model, artifactDir, context.evaluation, on: context.executor)
        return record
    }

    /// Reloads the artifact and compares outputs with the in-memory model on up to 32 evaluation items.
    static func roundTripDifference(_ model: LoadedModel, _ dir: URL, _ data: [EvalData], on executor: Executor) throws -> Double? {
        guard let first = data.first else { return nil }
        let reloaded = try Artifact.load(dir)
        let items = first.items.slice(0..<min(32, first.items.count))
        return Fidelity.maxAbsDiff(try model.predict(items, on: executor), try reloaded.predict(items, on: executor))
    }
}
