import Foundation
import Layers

/// Float64 reference forwards, written from the layer definitions (not from the Swift engine), that the finite
/// differences differentiate. Arrays are row-major with the shapes stated per function.
enum Ref {
    /// y(rows, n) = x(rows, k) · w(n, k)ᵀ + b(n).
    static func linear(_ x: [Double], _ w: [Double], _ b: [Double]?, rows: Int, k: Int, n: Int) -> [Double] {
        var y = [Double](repeating: 0, count: rows * n)
        for r in 0..<rows {
            for j in 0..<n {
                var s = b?[j] ?? 0
                for i in 0..<k { s += x[r * k + i] * w[j * k + i] }
                y[r * n + j] = s
            }
        }
        return y
    }

    static func activation(_ a: Activation, _ x: [Double], cols: Int) -> [Double] {
        switch a {
        case .linear: return x
        case .relu: return x.map { max($0, 0) }
        case .sigmoid: return x.map { 1 / (1 + exp(-$0)) }
        case .tanh: return x.map { Foundation.tanh($0) }
        case .gelu: return x.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
        case .softmax: return softmax(x, cols: cols)
        }
    }

    static func softmax(_ x: [Double], cols: Int) -> [Double] {
        var y = x
        for r in 0..<(x.count / cols) {
            let row = x[(r * cols)..<((r + 1) * cols)]
            let m = row.max()!
            let e = row.map { exp($0 - m) }
            let s = e.reduce(0, +)
            for j in 0..<cols { y[r * cols + j] = e[j] / s }
        }
        return y
    }

    /// NHWC convolution, weight (f, kh, kw, c), TensorFlow padding.
    static func conv(
        _ x: [Double], _ w: [Double], _ b: [Double]?, n: Int, h: Int, wd: Int, c: Int, f: Int, kh: Int, kw: Int, sh: Int, sw: Int,
        same: Bool
    ) -> (y: [Double], oh: Int, ow: Int) {
        let (oh, pt) = spatialOutput(input: h, kernel: kh, stride: sh, same: same)
        let (ow, pl) = spatialOutput(input: wd, kernel: kw, stride: sw, same: same)
        var y = [Double](repeating: 0, count: n * oh * ow * f)
        for bi in 0..<n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for fi in 0..<f {
                        var s = b?[fi] ?? 0
                        for ky in 0..<kh {
                            let iy = oy * sh + ky - pt
                            if iy < 0 || iy >= h { continue }
                            for kx in 0..<kw {
                                let ix = ox * sw + kx - pl
                                if ix < 0 || ix >= wd { continue }
                                for ci in 0..<c { s += x[((bi * h + iy) * wd + ix) * c + ci] * w[((fi * kh + ky) * kw + kx) * c + ci] }
                            }
                        }
                        y[((bi * oh + oy) * ow + ox) * f + fi] = s
                    }
                }
            }
        }
        return (y, oh, ow)
    }

    /// Batch normalization over the last axis; train: batch mean and biased variance.
    static func batchNorm(
        _ x: [Double], gamma: [Double], beta: [Double], mean: [Double], variance: [Double], eps: Double, features f: Int, train: Bool
    ) -> [Double] {
        let rows = x.count / f
        var m = mean, v = variance
        if train {
            for j in 0..<f {
                m[j] = (0..<rows).map { x[$0 * f + j] }.reduce(0, +) / Double(rows)
                v[j] = (0..<rows).map { (x[$0 * f + j] - m[j]) * (x[$0 * f + j] - m[j]) }.reduce(0, +) / Double(rows)
            }
        }
        return x.indices.map { i in
            let j = i % f; return (x[i] - m[j]) / (v[j] + eps).squareRoot() * gamma[j] + beta[j]
        }
    }

    static func pool(
        _ x: [Double], max isMax: Bool, n: Int, h: Int, w: Int, c: Int, ph: Int, pw: Int, sh: Int, sw: Int, same: Bool
    ) -> [Double] {
        let (oh, pt) = spatialOutput(input: h, kernel: ph, stride: sh, same: same)
        let (ow, pl) = spatialOutput(input: w, kernel: pw, stride: sw, same: same)
        var y: [Double] = []
        for b in 0..<n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ch in 0..<c {
                        var vals: [Double] = []
                        for ky in 0..<ph {
                            for kx in 0..<pw {
                                let iy = oy * sh + ky - pt, ix = ox * sw + kx - pl
                                if iy >= 0 && iy < h && ix >= 0 && ix < w { vals.append(x[((b * h + iy) * w + ix) * c + ch]) }
                            }
                        }
                        y.append(isMax ? vals.max()! : vals.reduce(0, +) / Double(vals.count))
                    }
                }
            }
        }
        return y
    }

    static func layerNorm(_ x: [Double], _ w: [Double], _ b: [Double], eps: Double, cols: Int) -> [Double] {
        var y = x
        for r in 0..<(x.count / cols) {
            let row = Array(x[(r * cols)..<((r + 1) * cols)])
            let m = row.reduce(0, +) / Double(cols)
            let v = row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(cols)
            for j in 0..<cols { y[r * cols + j] = (row[j] - m) / (v + eps).squareRoot() * w[j] + b[j] }
        }
        return y
    }

    /// ctx(T, heads·dh) from q, k, v (T, heads·dh) per packed sequence.
    static func attention(q: [Double], k: [Double], v: [Double], lengths: [Int], heads: Int, dh: Int) -> [Double] {
        let a = heads * dh
        let p = attentionProbabilities(q: q, k: k, lengths: lengths, heads: heads, dh: dh)
        var ctx = [Double](repeating: 0, count: q.count)
        var start = 0
        var offset = 0  // of this sequence and head's (l, l) block in p
        for l in lengths {
            for hd in 0..<heads {
                for i in 0..<l {
                    for d in 0..<dh {
                        var acc = 0.0
                        for j in 0..<l { acc += p[offset + i * l + j] * v[(start + j) * a + hd * dh + d] }
                        ctx[(start + i) * a + hd * dh + d] = acc
                    }
                }
                offset += l * l
            }
            start += l
        }
        return ctx
    }

    /// Attention probabilities softmax(q·kᵀ/√d) per sequence and head, (l, l) row-major, back to back (the layer
    /// tape's layout).
    static func attentionProbabilities(q: [Double], k: [Double], lengths: [Int], heads: Int, dh: Int) -> [Double] {
        let a = heads * dh
        var out: [Double] = []
        var start = 0
        for l in lengths {
            for hd in 0..<heads {
                for i in 0..<l {
                    var s = [Double](repeating: 0, count: l)
                    for j in 0..<l {
                        var dot = 0.0
                        for d in 0..<dh { dot += q[(start + i) * a + hd * dh + d] * k[(start + j) * a + hd * dh + d] }
                        s[j] = dot / Double(dh).squareRoot()
                    }
                    out += softmax(s, cols: l)
                }
            }
            start += l
        }
        return out
    }

    /// KL(t ‖ s) summed over each row of `cols`, averaged over rows.
    static func klRows(teacher t: [Double], student s: [Double], rows: Int) -> Double {
        var total = 0.0
        for j in 0..<t.count where t[j] > 0 { total += t[j] * (log(t[j]) - log(s[j])) }
        return total / Double(rows)
    }

    /// One BERT layer; `p` holds parameters by path relative to the layer.
    static func bertLayer(
        _ x: [Double], p: [String: [Double]], shape: BertLayerShape, hidden h: Int, lengths: [Int], eps: Double
    ) -> [Double] {
        let t = x.count / h, a = shape.attentionWidth, f = shape.intermediateSize
        let q = linear(x, p["attention.self.query.weight"]!, p["attention.self.query.bias"]!, rows: t, k: h, n: a)
        let k = linear(x, p["attention.self.key.weight"]!, p["attention.self.key.bias"]!, rows: t, k: h, n: a)
        let v = linear(x, p["attention.self.value.weight"]!, p["attention.self.value.bias"]!, rows: t, k: h, n: a)
        let ctx = attention(q: q, k: k, v: v, lengths: lengths, heads: shape.heads, dh: shape.headSize)
        var z1 = linear(ctx, p["attention.output.dense.weight"]!, p["attention.output.dense.bias"]!, rows: t, k: a, n: h)
        for i in z1.indices { z1[i] += x[i] }
        let a1 = layerNorm(z1, p["attention.output.LayerNorm.weight"]!, p["attention.output.LayerNorm.bias"]!, eps: eps, cols: h)
        let mid = activation(
            .gelu, linear(a1, p["intermediate.dense.weight"]!, p["intermediate.dense.bias"]!, rows: t, k: h, n: f), cols: f)
        var z2 = linear(mid, p["output.dense.weight"]!, p["output.dense.bias"]!, rows: t, k: f, n: h)
        for i in z2.indices { z2[i] += a1[i] }
        return layerNorm(z2, p["output.LayerNorm.weight"]!, p["output.LayerNorm.bias"]!, eps: eps, cols: h)
    }

    /// The whole encoder (embeddings + layers) on packed sequences; `p` by full HF path.
    static func bert(ids: [Int32], lengths: [Int], p: [String: [Double]], config: BertConfig) -> [Double] {
        let h = config.hiddenSize
        var x: [Double] = []
        var row = 0
        for l in lengths {
            for pos in 0..<l {
                let id = Int(ids[row])
                for j in 0..<h {
                    x.append(
                        p["embeddings.word_embeddings.weight"]![id * h + j] + p["embeddings.position_embeddings.weight"]![pos * h + j]
                            + p["embeddings.token_type_embeddings.weight"]![j])
                }
                row += 1
            }
        }
        x = layerNorm(x, p["embeddings.LayerNorm.weight"]!, p["embeddings.LayerNorm.bias"]!, eps: Double(config.layerNormEps), cols: h)
        for (i, shape) in config.layers.enumerated() {
            let prefix = "encoder.layer.\(i)."
            var local: [String: [Double]] = [:]
            for (k, v) in p where k.hasPrefix(prefix) { local[String(k.dropFirst(prefix.count))] = v }
            x = bertLayer(x, p: local, shape: shape, hidden: h, lengths: lengths, eps: Double(config.layerNormEps))
        }
        return x
    }

    static func meanPool(_ x: [Double], lengths: [Int], cols: Int) -> [Double] {
        var out: [Double] = []
        var start = 0
        for l in lengths {
            for j in 0..<cols { out.append((start..<(start + l)).map { x[$0 * cols + j] }.reduce(0, +) / Double(l)) }
            start += l
        }
        return out
    }

    static func l2Normalize(_ x: [Double], cols: Int) -> [Double] {
        var y = x
        for r in 0..<(x.count / cols) {
            let n = (0..<cols).map { x[r * cols + $0] * x[r * cols + $0] }.reduce(0, +).squareRoot()
            for j in 0..<cols { y[r * cols + j] = x[r * cols + j] / max(n, 1e-12) }
        }
        return y
    }
}
