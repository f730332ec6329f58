import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Outputs are written under a temporary name in the destination directory and renamed into place, so a
// crash or a full disk never leaves a half-written model where a reader (or a serving process) looks for it:
// rename(2) within one file system replaces the old file in a single step.

/// A temporary sibling of `url`: `.<name>.tmp-<random>` in the same directory (same file system, so rename works).
func temporarySibling(of url: URL, tag: String = "tmp") -> URL {
    let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(tag)-\(suffix)")
}

/// Writes `data` to `url` atomically: readers see the old file or the new one, never a partial write.
///
/// ```swift
/// try writeAtomically(Data("hello".utf8), to: outputDir.appendingPathComponent("note.txt"))
/// ```
public func writeAtomically(_ data: Data, to url: URL) throws {
    try writeFileAtomically(url) { temp in
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FormatError.io(file: fileLabel(url), message: "cannot create: \(posixMessage())") }
        defer { close(fd) }
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FormatError.io(file: fileLabel(url), message: "write failed: \(posixMessage())")
                }
                offset += n
            }
        }
        guard fsync(fd) == 0 else { throw FormatError.io(file: fileLabel(url), message: "fsync failed: \(posixMessage())") }
    }
}

/// Lets `body` write a file at a temporary path next to `url`, then renames it to `url`; on error the temporary
/// file is removed and `url` is untouched.
///
/// ```swift
/// try writeFileAtomically(url) { temp in let f = try HDF5File(creating: temp); try f.write(t, to: "x"); try f.close() }
/// ```
public func writeFileAtomically(_ url: URL, _ body: (URL) throws -> Void) throws {
    let temp = temporarySibling(of: url)
    do {
        try body(temp)
        guard rename(temp.path, url.path) == 0 else {
            throw FormatError.io(file: fileLabel(url), message: "cannot rename the temporary file into place: \(posixMessage())")
        }
    } catch {
        unlink(temp.path)
        throw error
    }
}

/// Builds a directory at a temporary sibling of `finalDir` (`.<name>.tmp-XXXX`), then swaps it in with rename;
/// on error the temporary directory is removed and `finalDir` is untouched.
///
/// A previous `finalDir` is replaced as a whole, but only if `ownership` says this writer wrote it (its marker,
/// which every directory written here gets), or it is empty and `force` is set; see
/// ``DirectoryOwnership/checkReplaceable(_:force:)``. The check runs before `body` (fail before the work) and again
/// just before the swap.
///
/// ```swift
/// try withTemporaryDirectoryReplacing(artifactDir, ownership: .artifact) { dir in
///     try SafeTensors.write(tensors, metadata: [:], to: dir.appendingPathComponent("model.safetensors"))
/// }
/// ```
public func withTemporaryDirectoryReplacing(
    _ finalDir: URL, ownership: DirectoryOwnership, force: Bool = false, _ body: (URL) throws -> Void
) throws {
    let fm = FileManager.default
    let label = fileLabel(finalDir)
    try ownership.checkReplaceable(finalDir, force: force)
    let temp = temporarySibling(of: finalDir)
    do {
        try fm.createDirectory(at: temp, withIntermediateDirectories: true)
    } catch {
        throw FormatError.io(file: label, message: "cannot create a temporary directory: \(error.localizedDescription)")
    }
    do {
        try body(temp)
        try Data().write(to: temp.appendingPathComponent(ownership.marker))
        try ownership.checkReplaceable(finalDir, force: force)
        if fm.fileExists(atPath: finalDir.path) {
            // rename(2) cannot replace a non-empty directory: move the old one aside first, then swap.
            let old = temporarySibling(of: finalDir, tag: "old")
            guard rename(finalDir.path, old.path) == 0 else {
                throw FormatError.io(file: label, message: "cannot move the previous directory aside: \(posixMessage())")
            }
            guard rename(temp.path, finalDir.path) == 0 else {
                let reason = posixMessage()
                rename(old.path, finalDir.path)
                throw FormatError.io(file: label, message: "cannot rename the new directory into place: \(reason)")
            }
            try? fm.removeItem(at: old)
        } else {
            guard rename(temp.path, finalDir.path) == 0 else {
                throw FormatError.io(file: label, message: "cannot rename the new directory into place: \(posixMessage())")
            }
        }
    } catch {
        try? fm.removeItem(at: temp)
        throw error
    }
}
