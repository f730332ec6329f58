import ArgumentParser
import Evaluation
import Formats
import Foundation
import Runtime
import Tensors

struct ParallelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parallel",
        abstract: "Throughput of N executors sharing one frozen model, against one executor (alternating rounds).")

    @Argument(help: "Model to run.")
    var model: String
    @Option(name: .long, help: "Data spec: FILE.txt or FILE.h5/.safetensors[#x,y].")
    var data: String
    @Option(name: .long, help: "Executors running at once.")
    var executors = 2
    @Option(name: .long, help: "Threads of each executor.")
    var threadsPerExecutor = 1
    @Option(name: .long, help: "Items per forward call.")
    var batchSize = 1
    @Option(name: .long, help: "Seconds per measurement.")
    var seconds: Double = 3
    @Option(name: .long, help: "Rounds (each: one executor, then all).")
    var rounds = 3
    @Flag(name: .long, help: "Print JSON.")
    var json = false
    @OptionGroup var common: CommonOptions

    func validate() throws {
        for (name, v) in [
            ("--executors", executors), ("--threads-per-executor", threadsPerExecutor), ("--batch-size", batchSize), ("--rounds", rounds),
        ]
        where v < 1 {
            throw ValidationError("\(name) must be at least 1")
        }
        if seconds <= 0 { throw ValidationError("--seconds must be positive") }
    }

    func run() throws {
        try reportingErrors {
            let m = try ModelLoader.load(model)
            let items = try EvalData.load(data).items
            let r = try ParallelThroughput.measure(
                m, items: items, executors: executors, threadsPerExecutor: threadsPerExecutor, batchSize: batchSize,
                secondsPerRound: seconds, rounds: rounds, progress: common.progress())
            if json {
                let e = JSONEncoder()
                e.outputFormatting = [.prettyPrinted, .sortedKeys]
                printOut(String(decoding: try e.encode(r), as: UTF8.self))
            } else {
                printOut(
                    String(
                        format:
                            "1 executor × %d thread(s): %.1f items/s\n%d executors × %d thread(s): %.1f items/s\nspeedup %.2f× (medians of %d alternating rounds, batch %d)",
                        threadsPerExecutor, r.singleMedian, executors, threadsPerExecutor, r.parallelMedian, r.speedup, rounds, batchSize))
            }
        }
    }
}
