import Foundation
import ServingCore

/// What a queued job's payload holds: the client's request body as it arrived (JSON, or JSON followed by binary
/// tensor data) and what the worker needs beside it. The queue stores it opaquely.
///
/// Layout: `CJ1\n`, the metadata's length (4 bytes, big-endian), the metadata (JSON), the body. The body is not
/// re-encoded, so a binary request stays as compact in the queue as on the wire.
public struct JobEnvelope: Sendable, Equatable {
    /// Metadata travelling with the body.
    public struct Meta: Codable, Sendable, Equatable {
        /// Model version asked for (nil: the served one).
        public var version: String?
        /// `Inference-Header-Content-Length` of the body (nil: all JSON).
        public var headerLength: Int?
        /// Where to POST the result once done.
        public var callback: String?
        /// Unix time of acceptance, seconds; the job's end-to-end latency starts here.
        public var submittedAt: Double

        public init(version: String? = nil, headerLength: Int? = nil, callback: String? = nil, submittedAt: Double) {
            self.version = version
            self.headerLength = headerLength
            self.callback = callback
            self.submittedAt = submittedAt
        }

        enum CodingKeys: String, CodingKey {
            case version, headerLength = "header_length", callback, submittedAt = "submitted_at"
        }
    }

    public var meta: Meta
    public var body: Data

    public init(meta: Meta, body: Data) {
        self.meta = meta
        self.body = body
    }

    static let magic = Data("CJ1\n".utf8)

    /// The bytes stored in the queue.
    public func encoded() -> Data {
        let metaBytes = (try? JSONEncoder().encode(meta)) ?? Data("{}".utf8)
        var out = Self.magic
        var n = UInt32(metaBytes.count).bigEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(metaBytes)
        out.append(body)
        return out
    }

    /// Reads stored bytes back; a corrupt payload is an error saying what is wrong with it.
    public init(decoding data: Data) throws(InferenceError) {
        let bytes = [UInt8](data)
        guard bytes.count >= 8, bytes[0..<4].elementsEqual(Self.magic) else {
            throw .invalidArgument("corrupt job payload: \(bytes.count) bytes without the CJ1 envelope header")
        }
        let n = Int(UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7]))
        guard n <= bytes.count - 8 else {
            throw .invalidArgument("corrupt job payload: metadata length \(n) runs past the payload's \(bytes.count) bytes")
        }
        do {
            meta = try JSONDecoder().decode(Meta.self, from: Data(bytes[8..<8 + n]))
        } catch {
            throw .invalidArgument("corrupt job payload: unreadable metadata (\(error))")
        }
        body = Data(bytes[(8 + n)...])
    }
}
