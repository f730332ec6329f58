import Evaluation
import Foundation
import Runtime
import ServingCore
import Tensors

/// Builds the requests a benchmark cycles through: real items from a data spec (sentences, images), or
/// perf_analyzer-style tensors of given shapes filled with random or zero data.
public enum RequestSource {
    /// `--shape NAME:D1,D2,...` (perf_analyzer's syntax, dims without the batch axis).
    public struct ShapeOption: Sendable, Equatable {
        public var name: String
        public var dims: [Int]

        public init(parsing text: String) throws {
            guard let colon = text.lastIndex(of: ":"), colon != text.startIndex else {
                throw BenchError("--shape '\(text)': expected NAME:D1,D2,... (e.g. input_ids:16)")
            }
            name = String(text[..<colon])
            let dimsText = text[text.index(after: colon)...]
            let dims = dimsText.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !dims.isEmpty, dims.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw BenchError("--shape '\(text)': dimensions must be positive integers separated by commas")
            }
            self.dims = dims.map { $0! }
        }
    }

    /// Random or zero filling for generated tensors (perf_analyzer `--input-data random|zero`).
    public enum Fill: String, Sendable, CaseIterable { case random, zero }

    /// One request per item of the data spec (at most `limit`), each a batch of `batch` consecutive items: text
    /// becomes a BYTES `text` tensor [batch, 1], arrays FP32 tensors named after the model's first input.
    public static func fromData(_ spec: String, metadata: ModelMetadata, batch: Int = 1, limit: Int = 512) throws -> [BenchRequest] {
        let data = try EvalData.load(spec)
        let n = data.items.count
        guard n >= batch else { throw BenchError("\(spec): \(n) items, fewer than the batch size \(batch)") }
        var requests: [BenchRequest] = []
        var start = 0
        while start + batch <= n && requests.count < limit {
            switch data.items.slice(start..<start + batch) {
            case let .texts(texts):
                guard metadata.inputs.contains(where: { $0.datatype == .bytes }) else {
                    throw BenchError("\(spec) holds text, but model '\(metadata.name)' takes no BYTES input")
                }
                let name = metadata.inputs.first { $0.datatype == .bytes }!.name
                requests.append(BenchRequest(inputs: [.init(name: name, shape: [batch, 1], data: .bytes(texts.map { Array($0.utf8) }))]))
            case let .tensor(t):
                guard let input = metadata.inputs.first(where: { $0.datatype == .fp32 }) ?? metadata.inputs.first else {
                    throw BenchError("model '\(metadata.name)' lists no inputs")
                }
                requests.append(BenchRequest(inputs: [.init(name: input.name, shape: t.shape, data: .fp32(t.toFloat32().floats))]))
            }
            start += batch
        }
        return requests
    }

    /// `count` requests with every input in `shapes` (or, without shapes, every input of the model, whose
    /// non-batch dims must then be fixed), filled per `fill`. Datatypes come from the model's metadata.
    public static func generated(
        metadata: ModelMetadata, shapes: [ShapeOption], fill: Fill, batch: Int = 1, count: Int = 16, seed: UInt64 = 7
    ) throws -> [BenchRequest] {
        var rng = SplitMix64(seed: seed)
        var specs: [(TensorMetadata, [Int])] = []
        if shapes.isEmpty {
            for input in metadata.inputs {
                let dims = Array(input.shape.dropFirst())
                guard dims.allSatisfy({ $0 > 0 }) else {
                    throw BenchError("input '\(input.name)' has variable dims \(input.shape): give --shape \(input.name):D1,... or --data")
                }
                specs.append((input, dims))
            }
        } else {
            for s in shapes {
                guard let input = metadata.inputs.first(where: { $0.name == s.name }) else {
                    throw BenchError(
                        "--shape \(s.name): model '\(metadata.name)' has no input '\(s.name)' (inputs: \(metadata.inputs.map(\.name).joined(separator: ", ")))"
                    )
                }
                specs.append((input, s.dims))
            }
        }
        return (0..<max(1, count)).map { _ in
            BenchRequest(
                inputs: specs.map { input, dims in
                    let shape = [batch] + dims
                    let n = shape.reduce(1, *)
                    return .init(name: input.name, shape: shape, data: makeData(input.datatype, count: n, fill: fill, rng: &rng))
                })
        }
    }

    static func makeData(_ type: TensorDataType, count n: Int, fill: Fill, rng: inout SplitMix64) -> TensorData {
        let zero = fill == .zero
        func ints<T: FixedWidthInteger>(_: T.Type, upTo bound: UInt64) -> [T] {
            (0..<n).map { _ in zero ? 0 : T(truncatingIfNeeded: rng.next() % bound) }
        }
        switch type {
        case .bool: return .bool((0..<n).map { _ in zero ? false : rng.next() & 1 == 1 })
        case .uint8: return .uint8(ints(UInt8.self, upTo: 256))
        case .uint16: return .uint16(ints(UInt16.self, upTo: 1 << 16))
        case .uint32: return .uint32(ints(UInt32.self, upTo: 1 << 16))
        case .uint64: return .uint64(ints(UInt64.self, upTo: 1 << 16))
        case .int8: return .int8(ints(Int8.self, upTo: 128))
        case .int16: return .int16(ints(Int16.self, upTo: 1 << 15))
        // Token ids: random ids below 1000 stay inside any BERT vocabulary ([unused] tokens, harmless).
        case .int32: return .int32(ints(Int32.self, upTo: 1000))
        case .int64: return .int64(ints(Int64.self, upTo: 1000))
        case .fp16: return .fp16((0..<n).map { _ in zero ? 0 : Float16(Float(rng.nextUnit())).bitPattern })
        case .fp32: return .fp32((0..<n).map { _ in zero ? 0 : Float(rng.nextUnit()) })
        case .fp64: return .fp64((0..<n).map { _ in zero ? 0 : rng.nextUnit() })
        case .bytes:
            return .bytes((0..<n).map { _ in zero ? Array("0".utf8) : Array("word\(rng.next() % 10_000)".utf8) })
        }
    }
}
