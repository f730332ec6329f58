import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock on an output directory, so two `compress run`s writing the same directory cannot interleave:
/// the second fails at once with "already running" instead of racing the first's final rename.
///
/// The lock is `flock(2)` on `.<name>.lock` next to the directory: the kernel releases it when the process exits,
/// however it exits (`kill -9` included), so a crashed run never leaves a stale lock behind; a run that ends
/// normally removes the file.
///
/// ```swift
/// let lock = try OutputLock(for: URL(fileURLWithPath: "artifacts/minilm-int8"))
/// defer { lock.release() }
/// ```
public final class OutputLock {
    /// The lock file.
    public let url: URL
    private var fd: Int32

    /// Takes the lock or throws ``FormatError/io(file:message:)`` naming the directory when another process holds it.
    /// Creates the parent directory when needed.
    public init(for directory: URL) throws {
        let dir = directory.standardizedFileURL
        let parent = dir.deletingLastPathComponent()
        let label = fileLabel(directory)
        do { try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
            throw FormatError.io(file: label, message: "cannot create the parent directory: \(error.localizedDescription)")
        }
        url = parent.appendingPathComponent(".\(dir.lastPathComponent).lock")
        fd = -1
        // The holder unlinks the file when it is done (so nothing is left in the user's directory). A process that
        // opened the file just before that unlink may then lock a file no longer at `url`: it checks that the
        // locked file is still the one at the path, and retries on the new one otherwise.
        for _ in 0..<8 {
            let f = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard f >= 0 else { throw FormatError.io(file: fileLabel(url), message: "cannot create the lock file: \(posixMessage())") }
            guard flock(f, LOCK_EX | LOCK_NB) == 0 else {
                let busy = errno == EWOULDBLOCK
                let reason = posixMessage()
                close(f)
                throw FormatError.io(
                    file: label,
                    message: busy
                        ? "another compress run is already running with this output directory (lock \(url.path) is held)"
                        : "cannot lock \(url.path): \(reason)")
            }
            var held = stat(), current = stat()
            if fstat(f, &held) == 0, stat(url.path, &current) == 0, held.st_ino == current.st_ino, held.st_dev == current.st_dev {
                fd = f
                return
            }
            close(f)
        }
        throw FormatError.io(file: label, message: "cannot lock \(url.path): it keeps being replaced")
    }

    /// Removes the lock file and releases the lock. A killed process cannot do this: its lock is released by the
    /// kernel and the file stays until the next run on the same output removes it.
    public func release() {
        if fd >= 0 {
            unlink(url.path)
            close(fd)
        }
        fd = -1
    }

    deinit { release() }

    /// Cleans up after runs that were killed while writing `directory` (call with the lock held, so no live run owns
    /// them): removes `.<name>.tmp-*` build directories, and restores a `.<name>.old-*` previous directory when a run
    /// died between moving it aside and renaming the new one in (otherwise removes it). Returns what it removed.
    @discardableResult
    public func recoverInterruptedRuns(of directory: URL) -> [String] {
        let fm = FileManager.default
        let dir = directory.standardizedFileURL
        let parent = dir.deletingLastPathComponent()
        let name = dir.lastPathComponent
        guard let entries = try? fm.contentsOfDirectory(atPath: parent.path) else { return [] }
        var removed: [String] = []
        let olds = entries.filter { $0.hasPrefix(".\(name).old-") }.sorted()
        var restored = false
        if !fm.fileExists(atPath: dir.path), olds.count == 1 {
            restored = rename(parent.appendingPathComponent(olds[0]).path, dir.path) == 0
        }
        for entry in entries where entry.hasPrefix(".\(name).tmp-") || (entry.hasPrefix(".\(name).old-") && !(restored && entry == olds[0]))
        {
            if (try? fm.removeItem(at: parent.appendingPathComponent(entry))) != nil { removed.append(entry) }
        }
        return removed
    }
}
