import Evaluation
import Foundation
import Training

/// One trained (or, for a baseline, possibly untrained) model of a train/distill stage, as kept in `metrics.json`.
public struct TrainingRunReport: Codable, Sendable {
    /// `distilled`, `fine-tuned`, `baseline: labels only`, `baseline: untrained layer-dropped student`.
    public var role: String
    /// The loss it was trained with (none for an untrained baseline).
    public var objective: String
    public var student: String
    public var parameters: Int
    public var trainExamples: Int
    public var validationExamples: Int
    public var epochs: Int
    public var batchSize: Int
    public var steps: Int
    public var seed: UInt64
    public var optimizer: String
    /// Train and validation loss per epoch.
    public var curve: [EpochRecord]
    public var bestEpoch: Int?
    public var trainSeconds: Double
    public var resumedAtStep: Int?
    /// Quality on the recipe's evaluation data (held out from training and validation), against the teacher.
    public var heldOut: EvalReport?

    enum CodingKeys: String, CodingKey {
        case role, objective, student, parameters, trainExamples = "train_examples", validationExamples = "validation_examples"
        case epochs, batchSize = "batch_size", steps, seed, optimizer, curve, bestEpoch = "best_epoch", trainSeconds = "train_seconds"
        case resumedAtStep = "resumed_at_step", heldOut = "held_out"
    }
}

/// What a train/distill stage records: the teacher's held-out figures and each model it trained, the stage's own
/// result first (the model later stages receive), then baselines.
public struct TrainingStageReport: Codable, Sendable {
    public var teacher: String?
    public var teacherParameters: Int?
    public var teacherHeldOut: EvalReport?
    public var runs: [TrainingRunReport]

    enum CodingKeys: String, CodingKey {
        case teacher, teacherParameters = "teacher_parameters", teacherHeldOut = "teacher_held_out", runs
    }

    /// The held-out comparison and the learning curves, in Markdown.
    public func markdown(stage: Int, name: String) -> String {
        var s = "\n## Training (stage \(stage): \(name))\n\n"
        s += "Held out: \(runs.first?.heldOut?.data.joined(separator: ", ") ?? "–") (never used for training, validation or keep-best).\n\n"
        s += "| model | parameters | accuracy | cosine to teacher (mean) | top-5 overlap | pairwise Spearman | best epoch | train s |\n"
        s += "|---|---:|---:|---:|---:|---:|---:|---:|\n"
        if let teacher {
            s += "| teacher `\(teacher)` | \(teacherParameters.map(String.init) ?? "–") | \(fmt(teacherHeldOut?.accuracy, "%.4f")) | 1 | 1 | 1 | – | – |\n"
        }
        for r in runs {
            let f = r.heldOut?.fidelity
            s += "| \(r.role): \(r.student) | \(r.parameters) | \(fmt(r.heldOut?.accuracy, "%.4f")) | \(fmt(f?.cosineMean, "%.4f")) | "
            s += "\(fmt(f?.top5Overlap, "%.3f")) | \(fmt(f?.pairwiseSpearman, "%.4f")) | \(r.bestEpoch.map { "\($0)/\(r.epochs)" } ?? "–") | "
            s += "\(String(format: "%.0f", r.trainSeconds)) |\n"
        }
        for r in runs where !r.curve.isEmpty {
            s += "\n### Learning curve: \(r.role) (\(r.objective); \(r.optimizer); batch \(r.batchSize), \(r.trainExamples) examples, seed \(r.seed))\n\n"
            s += "| epoch | train loss | validation loss | validation metric | lr at end | samples/s |\n|---:|---:|---:|---:|---:|---:|\n"
            for e in r.curve {
                s += "| \(e.epoch) | \(String(format: "%.5f", e.trainLoss)) | \(String(format: "%.5f", e.validationLoss)) | "
                s += "\(fmt(e.validationMetric, "%.4f")) | \(String(format: "%.3g", e.learningRate)) | \(String(format: "%.1f", e.samplesPerSecond)) |\n"
            }
            if let step = r.resumedAtStep { s += "\nResumed from a checkpoint at step \(step).\n" }
        }
        return s
    }

    /// The learning curves as inline SVG line charts (train solid, validation dashed), one per trained model.
    public func htmlCharts() -> String {
        var s = ""
        let colours = ["#2a6", "#c63", "#36c", "#a3a"]
        for (k, r) in runs.enumerated() where !r.curve.isEmpty {
            let values = r.curve.flatMap { [$0.trainLoss, $0.validationLoss] }.filter(\.isFinite)
            guard let top = values.max(), let bottom = values.min() else { continue }
            let (w, h, pad) = (420.0, 200.0, 36.0)
            let span = max(top - bottom, 1e-12)
            func x(_ i: Int) -> Double { pad + (w - 2 * pad) * (r.curve.count == 1 ? 0.5 : Double(i) / Double(r.curve.count - 1)) }
            func y(_ v: Double) -> Double { h - pad - (h - 2 * pad) * (v - bottom) / span }
            func line(_ v: [Double], dash: Bool) -> String {
                let pts = v.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y($0.element)) }.joined(separator: " ")
                return "<polyline fill=\"none\" stroke=\"\(colours[k % colours.count])\" stroke-width=\"2\"\(dash ? " stroke-dasharray=\"6 4\"" : "") points=\"\(pts)\"/>"
            }
            s += "<figure class=\"chart\"><svg width=\"\(Int(w))\" height=\"\(Int(h))\" role=\"img\" aria-label=\"learning curve \(esc(r.role))\">"
            s += "<rect x=\"\(pad)\" y=\"\(pad)\" width=\"\(w - 2 * pad)\" height=\"\(h - 2 * pad)\" fill=\"none\" stroke=\"#ccc\"/>"
            s += line(r.curve.map(\.trainLoss), dash: false) + line(r.curve.map(\.validationLoss), dash: true)
            s += String(format: "<text x=\"2\" y=\"%.0f\" font-size=\"10\">%.4g</text>", pad + 4, top)
            s += String(format: "<text x=\"2\" y=\"%.0f\" font-size=\"10\">%.4g</text>", h - pad, bottom)
            s += "<text x=\"\(pad)\" y=\"\(h - 8)\" font-size=\"10\">epoch 1</text><text x=\"\(w - pad - 40)\" y=\"\(h - 8)\" font-size=\"10\">epoch \(r.curve.count)</text>"
            s += "</svg><figcaption>\(esc(r.role)): train loss (solid), validation loss (dashed)</figcaption></figure>"
        }
        return s
    }
}

func esc(_ s: String) -> String { s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;") }
