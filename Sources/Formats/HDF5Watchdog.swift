import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ends the process with a one-line error when a call into libhdf5 runs far longer than any real file needs.
///
/// Fuzzing found HDF5 files (a corrupted global heap behind a variable-length string attribute) on which libhdf5
/// 1.10 loops forever inside `H5Aread`; a C call cannot be cancelled, so the alternative to this watchdog is a hang.
/// The limit is `COMPRESS_HDF5_TIMEOUT` seconds (default 120: reading a multi-gigabyte dataset from a slow disk must
/// not trip it); `0` disables it. Only one HDF5 call runs at a time (they share one lock), so one deadline suffices.
public enum HDF5Watchdog {
    /// Seconds one HDF5 call may take before the process gives up.
    public static let limit: Double = {
        if let s = ProcessInfo.processInfo.environment["COMPRESS_HDF5_TIMEOUT"], let v = Double(s), v >= 0 { return v }
        return 120
    }()

    nonisolated(unsafe) private static var deadline: Double = 0
    nonisolated(unsafe) private static var file = ""
    private static let lock = NSLock()
    private static let started: Bool = {
        let thread = Thread { watch() }
        thread.name = "compress.hdf5-watchdog"
        thread.start()
        return true
    }()

    /// Starts timing an HDF5 call on `file`; false when one is already being timed (a nested call) or disabled.
    static func arm(_ file: String) -> Bool {
        guard limit > 0 else { return false }
        _ = started
        lock.lock()
        defer { lock.unlock() }
        guard deadline == 0 else { return false }
        deadline = now() + limit
        self.file = file
        return true
    }

    /// Stops timing (the outermost call returned).
    static func disarm() {
        lock.lock()
        deadline = 0
        lock.unlock()
    }

    private static func now() -> Double { Date().timeIntervalSince1970 }

    private static func watch() {
        while true {
            Thread.sleep(forTimeInterval: min(1, max(limit / 10, 0.05)))
            lock.lock()
            let (d, f) = (deadline, file)
            lock.unlock()
            if d > 0 && now() > d {
                let message =
                    "compress: error: \(f): the HDF5 library made no progress for \(Int(limit)) s (a corrupted file can make it loop); giving up\n"
                _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
                _exit(1)
            }
        }
    }
}
