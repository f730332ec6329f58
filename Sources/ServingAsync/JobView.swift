import Foundation
import ServingQueue

/// A job as `GET v2/jobs/{id}` shows it, and as the callback POSTs it:
/// `{"id", "status": "queued"|"running"|"done"|"failed", "attempts"?, "error"?, "submitted_at"?, "completed_at"?,
/// "response"?}`, the response being the KServe v2 inference response.
public enum JobView {
    /// What a worker stores as the result: the timestamps and the response JSON, as a JSON object fragment
    /// (`"submitted_at":…,"completed_at":…,"response":{…}`) spliced into the view without re-parsing the response.
    static func storedResult(submittedAt: Double, completedAt: Double, response: Data) -> Data {
        var out = Data("\"submitted_at\":\(submittedAt),\"completed_at\":\(completedAt),\"response\":".utf8)
        out.append(response)
        return out
    }

    /// The parts of a stored result (what ``storedResult(submittedAt:completedAt:response:)`` wrote); nil for bytes
    /// it did not write.
    static func parseStored(_ stored: Data) -> (submittedAt: Double, completedAt: Double, response: Data)? {
        let bytes = [UInt8](stored)
        func find(_ marker: String, from start: Int) -> Int? {
            let m = Array(marker.utf8)
            guard bytes.count >= m.count, start <= bytes.count - m.count else { return nil }
            for i in start...(bytes.count - m.count) where bytes[i..<i + m.count].elementsEqual(m) { return i }
            return nil
        }
        // The timestamps are plain numbers, so the first `,"completed_at":` and `,"response":` are the separators.
        let head = "\"submitted_at\":"
        guard bytes.starts(with: Array(head.utf8)), let c = find(",\"completed_at\":", from: 0),
            let r = find(",\"response\":", from: c)
        else { return nil }
        let submitted = Double(String(decoding: bytes[head.utf8.count..<c], as: UTF8.self))
        let completed = Double(String(decoding: bytes[(c + 16)..<r], as: UTF8.self))
        guard let submitted, let completed else { return nil }
        return (submitted, completed, Data(bytes[(r + 12)...]))
    }

    /// The JSON body for a job's status.
    public static func json(id: String, status: JobStatus) -> Data {
        let quotedID = String(decoding: (try? JSONEncoder().encode(id)) ?? Data("\"\"".utf8), as: UTF8.self)
        switch status {
        case let .queued(attempts):
            return Data("{\"id\":\(quotedID),\"status\":\"queued\",\"attempts\":\(attempts)}".utf8)
        case let .running(attempt):
            return Data("{\"id\":\(quotedID),\"status\":\"running\",\"attempts\":\(attempt)}".utf8)
        case let .dead(reason):
            let quoted = String(decoding: (try? JSONEncoder().encode(reason)) ?? Data("\"\"".utf8), as: UTF8.self)
            return Data("{\"id\":\(quotedID),\"status\":\"failed\",\"error\":\(quoted)}".utf8)
        case let .done(stored):
            var out = Data("{\"id\":\(quotedID),\"status\":\"done\",".utf8)
            out.append(stored)
            out.append(Data("}".utf8))
            return out
        }
    }
}
