import ArgumentParser
import Foundation
import Pipeline
import Runtime
import Tensors

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run a recipe's stages and write artifacts/<name>/.")

    @Argument(help: "Recipe YAML file.")
    var recipe: String
    @Option(name: .long, help: "Output directory (default: the recipe's output, or artifacts/<name>).")
    var output: String?
    @Option(name: .long, help: "Seconds of timed passes per batch size in evaluate stages (overrides the recipe).")
    var timeBudget: Double?
    @Flag(name: .long, help: "Allow an existing empty output directory that compress did not create.")
    var force = false
    @Flag(name: .long, help: "Continue train/distill stages from their checkpoints (<output>.checkpoints/) after a killed run.")
    var resume = false
    @Flag(name: .long, help: "Print the run's metrics as JSON.")
    var json = false
    @OptionGroup var common: CommonOptions

    func run() throws {
        try reportingErrors {
            Executor.setBLASThreads(common.threads ?? Executor.availableCores)
            let r = try RecipeLoader.load(recipe)
            var runner = PipelineRunner(
                threadsOverride: common.threads, timeBudgetOverride: timeBudget, progress: common.progress())
            runner.force = force
            runner.verify = common.verify
            runner.resume = resume
            let (record, dir) = try runner.run(r, recipePath: recipe, outputDirectory: output)
            if json {
                let e = JSONEncoder()
                e.outputFormatting = [.prettyPrinted, .sortedKeys]
                printOut(String(decoding: try e.encode(record), as: UTF8.self))
            } else {
                printOut(RunReport.markdown(record) + "\nwrote \(dir.path)/")
            }
            if !record.constraintsMet { throw ExitCode(2) }
        }
    }
}
