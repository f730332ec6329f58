import Foundation

/// The first key that appears twice in the top-level object of JSON text, or nil. `JSONDecoder` keeps one of the
/// two values silently; in a safetensors header that would let two descriptions of one tensor disagree unnoticed.
/// Assumes `data` already parsed as JSON (this only scans for keys; it does not validate).
func firstDuplicateTopLevelKey(_ data: Data) -> String? {
    let bytes = [UInt8](data)
    var i = 0
    func skipSpace() { while i < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[i]) { i += 1 } }
    /// The string starting at bytes[i] == '"', returned raw (escapes kept); i moves past the closing quote.
    func rawString() -> ArraySlice<UInt8>? {
        let start = i
        i += 1
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\") { i += 2; continue }
            if bytes[i] == UInt8(ascii: "\"") { i += 1; return bytes[start..<i] }
            i += 1
        }
        return nil
    }
    skipSpace()
    guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return nil }
    i += 1
    var seen = Set<String>()
    while i < bytes.count {
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
        guard let raw = rawString() else { return nil }
        // Decode escapes so "a" and "\u0061" count as the same key.
        let key = (try? JSONDecoder().decode(String.self, from: Data(raw))) ?? String(decoding: raw, as: UTF8.self)
        if !seen.insert(key).inserted { return key }
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
        i += 1
        // Skip the value: strings whole, brackets by depth, up to the ',' or '}' at depth 0.
        var depth = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                guard rawString() != nil else { return nil }
                continue
            }
            if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") { depth += 1 }
            if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                if depth == 0 { return nil }  // end of the top-level object
                depth -= 1
            }
            if b == UInt8(ascii: ","), depth == 0 { i += 1; break }
            i += 1
        }
    }
    return nil
}
