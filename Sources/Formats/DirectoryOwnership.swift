import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// A recipe with `output: .` once replaced — that is, deleted — the whole working tree it was run from. Writers of
// directories therefore only ever replace a directory they can prove they wrote: it carries their marker file
// (or, for directories written before markers existed, the files only that writer leaves together).

/// Which existing directories a directory writer may replace, and the marker it leaves in the ones it writes.
///
/// ```swift
/// try withTemporaryDirectoryReplacing(outDir, ownership: .run) { tmp in try report.write(to: tmp.appendingPathComponent("report.md")) }
/// ```
public struct DirectoryOwnership: Sendable {
    /// File written (empty) into every directory this writer creates.
    public var marker: String
    /// What the writer should be called in error messages ("run directory").
    public var noun: String
    /// Recognises directories written by versions without markers.
    public var isLegacy: @Sendable (URL) -> Bool

    public init(marker: String, noun: String, isLegacy: @escaping @Sendable (URL) -> Bool = { _ in false }) {
        self.marker = marker
        self.noun = noun
        self.isLegacy = isLegacy
    }

    /// `compress run` output directories: `.compress-run`; older ones hold metrics.json, recipe.yaml and report.md.
    public static let run = DirectoryOwnership(marker: ".compress-run", noun: "run directory") { dir in
        ["metrics.json", "recipe.yaml", "report.md"].allSatisfy {
            FileManager.default.fileExists(atPath: dir.appendingPathComponent($0).path)
        }
    }

    /// Model artifacts: `.compress-artifact`; older ones have a `model.json` whose format is the artifact format.
    public static let artifact = DirectoryOwnership(marker: ".compress-artifact", noun: "artifact") { dir in
        (try? Artifact.readManifest(dir)) != nil
    }

    /// Whether `dir` (an existing directory) was written by this writer.
    public func owns(_ dir: URL) -> Bool {
        FileManager.default.fileExists(atPath: dir.appendingPathComponent(marker).path) || isLegacy(dir)
    }

    /// Throws unless `dir` may be replaced: it does not exist, or it is a directory this writer wrote, or it is an
    /// empty directory and `force` is set. The current directory, its parents, `/` and `$HOME` are never replaced.
    public func checkReplaceable(_ dir: URL, force: Bool) throws {
        let label = fileLabel(dir)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir) else { return }
        guard isDir.boolValue else { throw FormatError.io(file: label, message: "exists and is not a directory") }
        if let reason = protectedDirectoryReason(dir) {
            throw FormatError.io(file: label, message: "refusing to replace \(reason); choose another output directory")
        }
        if owns(dir) { return }
        let empty = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? ["?"]).isEmpty
        if empty && force { return }
        let hint = empty ? "pass --force to use this empty directory" : "choose a new output directory, or move it away first"
        throw FormatError.io(file: label, message: "refusing to replace: not a \(noun) written by compress (no \(marker)); \(hint)")
    }
}

/// Why `dir` must never be replaced, or nil: it is `/`, the home directory, the current directory or a parent of it.
/// - currentDirectory, home: injectable for tests (default: the process's).
func protectedDirectoryReason(_ dir: URL, currentDirectory: String? = nil, home: String? = nil) -> String? {
    let target = canonicalPath(dir.path)
    let cwd = canonicalPath(currentDirectory ?? FileManager.default.currentDirectoryPath)
    if target == "/" { return "the root directory" }
    if let h = home ?? ProcessInfo.processInfo.environment["HOME"], !h.isEmpty, canonicalPath(h) == target {
        return "the home directory"
    }
    if target == cwd { return "the current directory" }
    if cwd.hasPrefix(target.hasSuffix("/") ? target : target + "/") { return "a parent of the current directory" }
    return nil
}

/// The absolute path with symlinks, `.` and `..` resolved (realpath(3)); the standardized path if that fails.
func canonicalPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return URL(fileURLWithPath: path).standardizedFileURL.path }
    defer { free(resolved) }
    return String(cString: resolved)
}
