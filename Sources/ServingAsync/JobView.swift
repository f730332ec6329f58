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
