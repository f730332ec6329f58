import Foundation

/// Human units for reports: sizes in kB/MB/GB, durations in µs/ms/s, rates with thousands separators. Raw byte
/// counts and nanoseconds are what JSON keeps; people read these.
public enum Units {
    /// `86.7 MB`, `412 kB`, `1.21 GB` (decimal units, as `ls -h --si` and model hubs print sizes).
    public static func bytes(_ b: Double) -> String {
        let a = abs(b)
        if a >= 1e9 { return String(format: "%.2f GB", b / 1e9) }
        if a >= 1e6 { return String(format: a >= 1e8 ? "%.0f MB" : "%.1f MB", b / 1e6) }
        if a >= 1e3 { return String(format: "%.0f kB", b / 1e3) }
        return String(format: "%.0f B", b)
    }

    /// A duration given in microseconds: `850 µs`, `12.3 ms`, `1.20 s` (three significant digits).
    public static func duration(microseconds us: Double) -> String {
        let a = abs(us)
        if a >= 1e6 { return String(format: "%.2f s", us / 1e6) }
        if a >= 1e3 { return significant(us / 1e3) + " ms" }
        return significant(us) + " µs"
    }

    /// A duration given in milliseconds (engine timings are kept in ms).
    public static func duration(milliseconds ms: Double) -> String { duration(microseconds: ms * 1000) }

    /// `1,234/s`, `56.7/s`.
    public static func rate(_ perSecond: Double) -> String { number(perSecond) + "/s" }

    /// Counts and other plain numbers: thousands separators above 1,000, three significant digits below.
    public static func number(_ v: Double) -> String {
        guard v.isFinite else { return "–" }
        if abs(v) >= 999.5 {
            let rounded = Int(v.rounded())
            let digits = String(abs(rounded))
            var out = ""
            for (i, c) in digits.enumerated() {
                if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
                out.append(c)
            }
            return (rounded < 0 ? "-" : "") + out
        }
        return significant(v)
    }

    /// A ratio as `×1.93`.
    public static func ratio(_ r: Double) -> String { r.isFinite ? String(format: "×%.2f", r) : "–" }

    /// A fraction as a percentage: `91.49 %`.
    public static func percent(_ fraction: Double, digits: Int = 2) -> String {
        String(format: "%.\(digits)f %%", fraction * 100)
    }

    /// Three significant digits without exponent notation for the range reports use.
    static func significant(_ v: Double) -> String {
        let a = abs(v)
        if a >= 100 { return String(format: "%.0f", v) }
        if a >= 10 { return String(format: "%.1f", v) }
        if a == 0 { return "0" }
        if a >= 1 { return String(format: "%.2f", v) }
        if a >= 0.01 { return String(format: "%.3f", v) }
        return String(format: "%.3g", v)
    }
}
