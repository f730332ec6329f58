import Foundation
import Testing

@testable import Formats

/// Directory writers replace only directories they wrote (a recipe with `output: .` once deleted a working tree).
/// Every case runs under a fresh temporary directory.
struct DirectoryOwnershipTests {
    static let fm = FileManager.default

    static func write(_ dir: URL, _ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: dir.appendingPathComponent(name))
    }

    static func write(_ dir: URL, _ text: String) throws { try write(dir, "f", text) }

    static func read(_ dir: URL, _ name: String = "f") throws -> String {
        try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
    }

    @Test func newDirectoryGetsTheMarker() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? Self.fm.removeItem(at: root) }
        let target = root.appendingPathComponent("out")
        try withTemporaryDirectoryReplacing(target, ownership: .run) { try Self.write($0, "v1") }
        #expect(Self.fm.fileExists(atPath: target.appendingPathComponent(".compress-run").path))
        // Marked: a second write replaces it.
        try withTemporaryDirectoryReplacing(target, ownership: .run) { try Self.write($0, "v2") }
        #expect(try Self.read(target) == "v2")
        #expect(try Self.fm.contentsOfDirectory(atPath: root.path) == ["out"])
    }

    @Test func legacyRunDirectoryIsReplaced() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? Self.fm.removeItem(at: root) }
        for name in ["metrics.json", "recipe.yaml", "report.md"] { try Self.write(root, name, "old") }
        try withTemporaryDirectoryReplacing(root, ownership: .run) { try Self.write($0, "new") }
        #expect(try Self.read(root) == "new")
        #expect(!Self.fm.fileExists(atPath: root.appendingPathComponent("report.md").path))
    }

    @Test(arguments: [false, true])
    func foreignDirectoryIsRefusedAndKept(force: Bool) throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? Self.fm.removeItem(at: root) }
        let keep = root.appendingPathComponent("keep")
        try Self.fm.createDirectory(at: keep, withIntermediateDirectories: true)
        try Self.write(keep, "x", "precious")
        // Two of the three legacy files are not enough to look like a run.
        try Self.write(keep, "report.md", "mine")
        try Self.write(keep, "metrics.json", "mine")
        var ran = false
        let error = #expect(throws: FormatError.self) {
            try withTemporaryDirectoryReplacing(keep, ownership: .run, force: force) { _ in ran = true }
        }
        #expect(!ran, "the check runs before the work")
        #expect(error?.description.contains(keep.path) == true)
        #expect(error?.description.contains("refusing") == true)
        #expect(try Self.read(keep, "x") == "precious")
        #expect(try Self.fm.contentsOfDirectory(atPath: root.path) == ["keep"])
    }

    @Test func emptyForeignDirectoryNeedsForce() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? Self.fm.removeItem(at: root) }
        let error = #expect(throws: FormatError.self) {
            try withTemporaryDirectoryReplacing(root, ownership: .run) { try Self.write($0, "v") }
        }
        #expect(error?.description.contains("--force") == true)
        #expect(try Self.fm.contentsOfDirectory(atPath: root.path).isEmpty)
        try withTemporaryDirectoryReplacing(root, ownership: .run, force: true) { try Self.write($0, "v") }
        #expect(try Self.read(root) == "v")
    }

    @Test func artifactOwnershipIsSeparateFromRunOwnership() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? Self.fm.removeItem(at: root) }
        let target = root.appendingPathComponent("a")
        try withTemporaryDirectoryReplacing(target, ownership: .run) { try Self.write($0, "run") }
        #expect(throws: FormatError.self) { try withTemporaryDirectoryReplacing(target, ownership: .artifact) { _ in } }
        #expect(try Self.read(target) == "run")
    }

    @Test func fileInTheWayIsRefused() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? Self.fm.removeItem(at: root) }
        try Self.write(root, "out", "a file")
        #expect(throws: FormatError.self) {
            try withTemporaryDirectoryReplacing(root.appendingPathComponent("out"), ownership: .run, force: true) { _ in }
        }
        #expect(try Self.read(root, "out") == "a file")
    }

    @Test func rootHomeCurrentDirectoryAndItsParentsAreProtected() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? Self.fm.removeItem(at: root) }
        let cwd = root.appendingPathComponent("a/b/c")
        try Self.fm.createDirectory(at: cwd, withIntermediateDirectories: true)
        let home = root.appendingPathComponent("home")
        try Self.fm.createDirectory(at: home, withIntermediateDirectories: true)
        func reason(_ url: URL) -> String? { protectedDirectoryReason(url, currentDirectory: cwd.path, home: home.path) }
        #expect(reason(URL(fileURLWithPath: "/")) == "the root directory")
        #expect(reason(home) == "the home directory")
        #expect(reason(cwd) == "the current directory")
        #expect(reason(cwd.appendingPathComponent("..")) == "a parent of the current directory")
        #expect(reason(root) == "a parent of the current directory")
        #expect(reason(root.appendingPathComponent("a/b/c2")) == nil)
        #expect(reason(cwd.appendingPathComponent("run")) == nil)
        // A symlink to the current directory is the current directory.
        let link = root.appendingPathComponent("link")
        try Self.fm.createSymbolicLink(at: link, withDestinationURL: cwd)
        #expect(reason(link) == "the current directory")
    }

    @Test func markedCurrentDirectoryIsStillRefusedWithForce() throws {
        // The real process's current directory, marked as if a run wrote it: still never replaced.
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let error = #expect(throws: FormatError.self) {
            try DirectoryOwnership(marker: ".", noun: "test").checkReplaceable(cwd, force: true)
        }
        #expect(error?.description.contains("current directory") == true)
        #expect(throws: FormatError.self) {
            try DirectoryOwnership(marker: ".", noun: "test").checkReplaceable(URL(fileURLWithPath: "/"), force: true)
        }
    }
}
