import Foundation

/// Everything that can go wrong reading or writing a model file, as a one-line message that names the
/// file and the tensor, field or attribute involved (as tinygrad's ``Shape mismatch in layer `{k}` ``).
///
/// ```swift
/// do { _ = try SafeTensors.read(url) }
/// catch let e as FormatError { print(e) }  // model.safetensors: tensor 'w' has unsupported dtype 'F64' ...
/// ```
public enum FormatError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file (or directory) does not exist.
    case missingFile(String)
    /// The file exists but its contents are malformed, truncated or inconsistent.
    case invalid(file: String, message: String)
    /// The file is well formed but uses something we do not read (a dtype, a layout).
    case unsupported(file: String, message: String)
    /// The operating system refused a read, write or rename.
    case io(file: String, message: String)

    /// The file (or in-memory name) the error is about.
    public var file: String {
        switch self {
        case let .missingFile(f): return f
        case let .invalid(f, _), let .unsupported(f, _), let .io(f, _): return f
        }
    }

    /// `<file>: <message>` on a single line.
    public var description: String {
        let text: String
        switch self {
        case let .missingFile(f): text = "\(f): no such file"
        case let .invalid(f, m), let .unsupported(f, m), let .io(f, m): text = "\(f): \(m)"
        }
        // Messages sometimes embed text from C libraries or JSON parsers; keep reports and logs one line per error.
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

/// The label used for `url` in error messages: the path as the caller gave it.
@inline(__always)
func fileLabel(_ url: URL) -> String { url.relativePath }

/// `strerror(errno)` as a Swift string.
func posixMessage(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
