/// Token ids of several texts, right-padded to the longest one, ready to feed a BERT encoder.
///
///     let batch = tokenizer.encodeBatch(["a cat", "a very large dog"])
///     // batch.ids: (batchSize, sequenceLength) row-major; padded slots hold the pad id (0)
///     // batch.attentionMask: 1 for real tokens, 0 for padding
public struct TokenBatch: Sendable, Equatable {
    /// Number of texts (rows).
    public let batchSize: Int
    /// Length of every row: the longest encoded text in the batch.
    public let sequenceLength: Int
    /// Token ids, shape (batchSize, sequenceLength), row-major.
    public let ids: [Int32]
    /// 1 where `ids` holds a real token, 0 where it holds padding; shape (batchSize, sequenceLength).
    public let attentionMask: [Int32]
    /// Number of real tokens in each row (including the special tokens).
    public let lengths: [Int]

    /// Packs already encoded rows, padding each with `padID` up to the longest row.
    public init(rows: [[Int32]], padID: Int32) {
        let sequenceLength = rows.reduce(0) { max($0, $1.count) }
        var ids = [Int32](repeating: padID, count: rows.count * sequenceLength)
        var mask = [Int32](repeating: 0, count: rows.count * sequenceLength)
        for (r, row) in rows.enumerated() {
            let base = r * sequenceLength
            for (j, id) in row.enumerated() {
                ids[base + j] = id
                mask[base + j] = 1
            }
        }
        self.batchSize = rows.count
        self.sequenceLength = sequenceLength
        self.ids = ids
        self.attentionMask = mask
        self.lengths = rows.map(\.count)
    }

    /// The real (unpadded) ids of row `index`.
    public func row(_ index: Int) -> ArraySlice<Int32> {
        let base = index * sequenceLength
        return ids[base..<(base + lengths[index])]
    }
}
