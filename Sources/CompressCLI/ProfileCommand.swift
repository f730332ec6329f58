import ArgumentParser
import Evaluation
import Formats
import Foundation
import Runtime
import Tensors

struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Time the engine alone by layer kind: tokenizer, embeddings, attention, GEMMs, LayerNorm, GELU, pooling.",
        discussion: """
            Text models get --batch texts of about --seq tokens made from real sentences (--data, default \
            datasets/text/eval.txt); tensor models get the first --batch items of --data (default datasets/digits/test.h5). \
            Kinds are exclusive (a GEMM inside attention counts as GEMM) and add up to the measured pass.
            """)

    @Argument(help: "Model (artifact, run folder, Hugging Face folder, .keras/.h5).")
    var model: String
    @Option(name: .long, help: "Items per pass.")
    var batch = 1
    @Option(name: .long, help: "Text models: tokens per item, special tokens included (default: the sentences as they are).")
    var seq: Int?
    @Option(name: .long, help: "Input data spec.")
    var data: String?
    @Option(name: .long, help: "Timed passes.")
    var passes = 50
    @Option(name: .long, help: "Untimed warm-up passes.")
    var warmup = 5
    @Flag(name: .long, help: "Print JSON.")
    var json = false
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if batch < 1 || passes < 1 || warmup < 0 { throw ValidationError("--batch and --passes must be at least 1, --warmup >= 0") }
        if let seq, seq < 3 { throw ValidationError("--seq must be at least 3 (two special tokens and one word)") }
    }

    func run() throws {
        try reportingErrors {
            let m = try ModelLoader.load(model, verify: common.verify)
            let items: ModelInputs
            switch m.kind {
            case let .sentenceEncoder(_, _, tokenizer):
                let lines = try EvalData.readLines(URL(fileURLWithPath: data ?? "datasets/text/eval.txt"))
                guard !lines.isEmpty else { throw ValidationError("\(data ?? "datasets/text/eval.txt"): no sentences") }
                if let seq {
                    items = .texts(EngineProfile.texts(from: lines, tokenizer: tokenizer, batch: batch, tokens: seq))
                } else {
                    items = .texts((0..<batch).map { lines[$0 % lines.count] })
                }
            case .sequential:
                if seq != nil { throw ValidationError("--seq is for text models") }
                let set = try EvalData.load(data ?? "datasets/digits/test.h5")
                guard set.items.count >= batch else { throw ValidationError("\(set.spec): \(set.items.count) items, fewer than --batch \(batch)") }
                items = set.items.slice(0..<batch)
            }
            let threads = common.threads ?? Executor.availableCores
            let profile = try EngineProfile.measure(
                m, name: (model as NSString).lastPathComponent, items: items, threads: threads, passes: passes, warmup: warmup)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                printOut(String(decoding: try encoder.encode(profile), as: UTF8.self))
            } else {
                printOut(profile.text)
            }
        }
    }
}
