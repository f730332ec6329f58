import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ProgressReporter {
    /// Progress on stderr for a command: a redrawn bar when stderr is a terminal, concise lines when it is a file or
    /// pipe, nothing when `quiet`. stdout is never written.
    public static func standardError(quiet: Bool) -> ProgressReporter {
        if quiet { return .silent }
        let write: @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
        if isatty(2) != 0 { return ProgressReporter(TerminalProgress(write: write, columns: terminalColumns)) }
        return ProgressReporter(LineProgress(write: write))
    }
}

/// Width of the terminal on stderr (80 when unknown).
@Sendable func terminalColumns() -> Int {
    var size = winsize()
    guard ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
    return Int(size.ws_col)
}
