/// An immutable hash table from UTF-8 byte strings to token ids, looked up straight from a byte pointer.
///
/// WordPiece probes many substrings of every word; looking them up by pointer and length avoids building a
/// `String` (and hashing it through `Hasher`) for each probe. Open addressing with linear probing, load <= 0.5.
final class ByteTable: @unchecked Sendable {
    // Immutable after init, so sharing across threads is safe.
    private let keys: UnsafeMutablePointer<UInt8>  // all keys concatenated
    private let slots: UnsafeMutablePointer<Int32>  // (capacity, 3): key offset, key length, id; length -1 = empty
    private let mask: Int
    /// Length in bytes of the longest key; no substring longer than this can match.
    let maxKeyLength: Int
    let count: Int

    /// Later pairs with an equal key replace earlier ones (as in a dictionary built in order).
    init(_ pairs: [(key: [UInt8], id: Int32)]) {
        var capacity = 16
        while capacity < pairs.count * 2 { capacity <<= 1 }
        let mask = capacity - 1
        let totalBytes = pairs.reduce(0) { $0 + $1.key.count }
        let keys = UnsafeMutablePointer<UInt8>.allocate(capacity: max(totalBytes, 1))
        let slots = UnsafeMutablePointer<Int32>.allocate(capacity: capacity * 3)
        for i in 0..<capacity {
            slots[3 * i] = 0
            slots[3 * i + 1] = -1
            slots[3 * i + 2] = 0
        }
        var offset = 0
        var maxLength = 0
        var distinct = 0
        for (key, id) in pairs {
            key.withUnsafeBufferPointer { k in
                var i = Int(truncatingIfNeeded: ByteTable.hash(k.baseAddress, k.count)) & mask
                while true {
                    let length = Int(slots[3 * i + 1])
                    if length < 0 {
                        if k.count > 0 { (keys + offset).update(from: k.baseAddress!, count: k.count) }
                        slots[3 * i] = Int32(offset)
                        slots[3 * i + 1] = Int32(k.count)
                        slots[3 * i + 2] = id
                        offset += k.count
                        distinct += 1
                        break
                    }
                    if length == k.count && ByteTable.equal(keys + Int(slots[3 * i]), k.baseAddress, length) {
                        slots[3 * i + 2] = id
                        break
                    }
                    i = (i + 1) & mask
                }
            }
            maxLength = max(maxLength, key.count)
        }
        self.keys = keys
        self.slots = slots
        self.mask = mask
        maxKeyLength = maxLength
        count = distinct
    }

    deinit {
        keys.deallocate()
        slots.deallocate()
    }

    /// The id of the `length` bytes at `bytes`, or -1.
    @inline(__always)
    func lookup(_ bytes: UnsafePointer<UInt8>, _ length: Int) -> Int32 {
        var i = Int(truncatingIfNeeded: ByteTable.hash(bytes, length)) & mask
        while true {
            let stored = Int(slots[3 * i + 1])
            if stored < 0 { return -1 }
            if stored == length && ByteTable.equal(keys + Int(slots[3 * i]), bytes, length) {
                return slots[3 * i + 2]
            }
            i = (i + 1) & mask
        }
    }

    func lookup(_ key: String) -> Int32 {
        var key = key
        return key.withUTF8 { k in
            guard let base = k.baseAddress else {
                var empty: UInt8 = 0
                return lookup(&empty, 0)
            }
            return lookup(base, k.count)
        }
    }

    /// FNV-1a, 64-bit. Keys are short (a WordPiece token is a few bytes), so a simple byte loop is enough.
    @inline(__always)
    static func hash(_ bytes: UnsafePointer<UInt8>?, _ length: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        guard let bytes else { return h }
        for i in 0..<length {
            h = (h ^ UInt64(bytes[i])) &* 0x0000_0100_0000_01b3
        }
        // Fold the high bits down: the table index uses the low bits only.
        return h ^ (h >> 29)
    }

    @inline(__always)
    static func equal(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>?, _ length: Int) -> Bool {
        guard let b else { return length == 0 }
        for i in 0..<length where a[i] != b[i] { return false }
        return true
    }
}
