import Runtime
import Tensors

/// Combining requests into one execution and splitting the result back.
enum BatchInputs {
    /// One engine input from many requests' inputs, in order. Token inputs are packed end to end with their
    /// lengths (no padding: a batch of a 5-token and a 60-token sentence costs 65 tokens, not 120), tensors are
    /// stacked along the item axis.
    static func combine(_ parts: [PreparedInputs]) throws -> PreparedInputs {
        if parts.count == 1 { return parts[0] }
        switch parts[0] {
        case .tokens:
            var ids: [Int32] = []
            var lengths: [Int] = []
            ids.reserveCapacity(parts.reduce(0) { n, p in if case let .tokens(i, _) = p { return n + i.count } else { return n } })
            for case let .tokens(i, l) in parts {
                ids += i
                lengths += l
            }
            return .tokens(ids: ids, lengths: lengths)
        case .tensor:
            let tensors = parts.compactMap { p -> Tensor? in if case let .tensor(t) = p { return t } else { return nil } }
            return .tensor(try Tensor.concatenateRows(tensors))
        }
    }

    /// Each request's rows of `result` (N, ...), for item counts `counts` in batch order.
    static func split(_ result: Tensor, counts: [Int]) -> [Tensor] {
        if counts.count == 1 { return [result] }
        var offset = 0
        return counts.map { n in
            defer { offset += n }
            return result.rows(offset..<offset + n)
        }
    }
}
