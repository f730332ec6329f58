import Layers
import Tensors

extension Embedding {
    /// y(T, dim) = weight[ids[t]].
    public func trainingForward(ids: [Int32]) throws -> Tensor {
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= count }) {
            throw TrainingError.badInput("embedding index \(bad) outside 0..<\(count)")
        }
        var y = Tensor(uninitialized: [ids.count, dim])
        y.withUnsafeMutableFloats { yp in for (t, id) in ids.enumerated() { copyRow(Int(id), into: yp.baseAddress! + t * dim) } }
        return y
    }

    /// Sparse row gradient: dweight[ids[t]] += dy[t] for every t (a row used twice collects both). Only the rows
    /// that were looked up are touched; the rest of the (count, dim) gradient stays as it was.
    public func backward(ids: [Int32], dy: UnsafePointer<Float>, gradients: Gradients, path: String) {
        guard let dw = gradients.buffer(path, "weight") else { return }
        for (t, id) in ids.enumerated() {
            let dst = dw + Int(id) * dim, src = dy + t * dim
            for j in 0..<dim { dst[j] += src[j] }
        }
    }
}
