import Foundation

extension ModelInspection {
    /// The table `compress inspect` prints: a header, one row per module, totals, provenance (no trailing newline).
    public var text: String {
        var s = "\(model)  (\(format), \(kind == "sentence-embedding" ? "sentence encoder" : "sequential"))\n"
        if let architecture { s += architecture + "\n" }
        let w = max(24, layers.map(\.path.count).max() ?? 0)
        s +=
            "\("path".rightPad(w))  \("type".rightPad(14))  \("values".leftPad(10))  \("bytes".leftPad(11))  \("bits".leftPad(5))  \("dens".leftPad(5))  enc  config\n"
        for r in layers {
            s +=
                "\(r.path.rightPad(w))  \(r.type.rightPad(14))  \(String(r.parameters).leftPad(10))  \(String(r.bytes).leftPad(11))  \(String(format: "%5.2f", r.bitsPerWeight))  \(r.density.map { String(format: "%5.3f", $0) } ?? "    –")  \(r.encoding)  \(r.summary)\(r.kernel.map { " [\($0)]" } ?? "")\n"
        }
        s +=
            "total: \(weights) weights in \(parameters) stored values (codes and scales), \(bytes) bytes (\(String(format: "%.2f", Double(bytes) / 1e6)) MB)"
        for (k, v) in provenance.sorted(by: { $0.key < $1.key }) { s += "\nprovenance.\(k): \(v)" }
        return s
    }
}

extension String {
    /// Right-aligned in `n` columns (longer strings are kept whole).
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
    /// Left-aligned in exactly `n` columns (longer strings are cut, as `padding(toLength:)` does).
    func rightPad(_ n: Int) -> String { padding(toLength: n, withPad: " ", startingAt: 0) }
}
