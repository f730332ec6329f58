import Foundation
import Testing

@testable import ServingCore

@Suite struct ModelConfigTests {
    @Test func readsTritonKeys() throws {
        let c = try ModelConfigLoader.parse(
            """
            max_batch_size: 16
            dynamic_batching:
              preferred_batch_size: [4, 8]
              max_queue_delay_microseconds: 500
              priority_levels: 2
              default_priority_level: 2
              default_queue_policy: {timeout_action: REJECT, default_timeout_microseconds: 1000, allow_timeout_override: false, max_queue_size: 7}
            instance_group: [{count: 2, kind: KIND_CPU}]
            threads: 1
            """, file: "m/config.yaml")
        #expect(c.maxBatchSize == 16)
        #expect(c.instanceCount == 2)
        #expect(c.dynamicBatching?.preferredBatchSize == [4, 8])
        let p = BatchingPolicy(config: c)
        #expect(p.fillTarget == 8)
        #expect(p.maxQueueDelayNanoseconds == 500_000)
        #expect(p.maxQueueSize == 7)
        #expect(p.defaultTimeoutNanoseconds == 1_000_000)
        #expect(!p.allowTimeoutOverride)
        #expect(p.priorityLevels == 2 && p.defaultPriorityLevel == 2)
    }

    @Test func instanceGroupMayBeOneMapping() throws {
        let c = try ModelConfigLoader.parse("instance_group: {count: 3}", file: "c.yaml")
        #expect(c.instanceCount == 3)
        #expect(BatchingPolicy(config: c).maxQueueSize == ModelConfig.QueuePolicy.defaultMaxQueueSize)
    }

    @Test(arguments: [
        ("max_batch: 3", "unknown key 'max_batch' at top level"),
        ("dynamic_batching: {max_delay: 3}", "unknown key 'max_delay' at 'dynamic_batching'"),
        ("dynamic_batching: {default_queue_policy: {size: 1}}", "unknown key 'size' at 'dynamic_batching.default_queue_policy'"),
        ("instance_group: [{count: 1, gpus: [0]}]", "unknown key 'gpus' at 'instance_group'"),
        ("max_batch_size: 0", "max_batch_size must be at least 1"),
        ("max_batch_size: 4\ndynamic_batching: {preferred_batch_size: [8]}", "preferred_batch_size 8 is outside"),
        ("max_batch_size: many", "max_batch_size"),
    ])
    func rejectsWithFileAndKey(yaml: String, expected: String) {
        do {
            _ = try ModelConfigLoader.parse(yaml, file: "repo/m/config.yaml")
            Issue.record("accepted \(yaml)")
        } catch {
            let message = "\(error)"
            #expect(message.hasPrefix("repo/m/config.yaml"), "\(message)")
            #expect(message.contains(expected), "\(message)")
        }
    }

    @Test func repositoryFolders() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("compress-repo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let cnn = TestModels.repo.appendingPathComponent("Tests/Fixtures/keras/digits_cnn.keras").path
        try FileManager.default.createDirectory(at: root.appendingPathComponent("digits/3"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("digits/12"), withIntermediateDirectories: true)
        try "max_batch_size: 8\n".write(to: root.appendingPathComponent("digits/config.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("byPath"), withIntermediateDirectories: true)
        try "model: \(cnn)\n".write(to: root.appendingPathComponent("byPath/config.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("notes"), withIntermediateDirectories: true)
        #expect(ModelRepository.isRepository(root.path))
        let r = try ModelRepository.open(root.path)
        #expect(r.entries.map(\.name) == ["byPath", "digits"])
        #expect(r.entries[1].version == "12")  // the highest number, not the last in text order
        guard case let .path(p) = r.entries[1].source else { Issue.record("no path"); return }
        #expect(p.hasSuffix("digits/12"))
        let quick = try ModelRepository.quickStart([cnn])
        #expect(quick.entries.map(\.name) == ["digits_cnn"])
        #expect(throws: RepositoryError.self) { try ModelRepository.quickStart([cnn, cnn]) }
    }
}
