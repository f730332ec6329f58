import ArgumentParser
import Bench
import Formats
import Foundation

/// `compress report MANIFEST --output DIR`: combines `compress run` directories and `compress bench --json` results
/// into one report per model family (what `make bench-optimized` ends with).
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Combine run directories and bench results into report.md, report.html (charts) and results.json.",
        discussion:
            "MANIFEST is JSON: {\"title\": …, \"variants\": [{\"family\", \"name\", \"run\": RUN_DIR, \"bench\": [BENCH_JSON…]}], \"commands\": […], \"notes\": […]}; paths are relative to it."
    )

    @Argument(help: "The manifest (JSON).")
    var manifest: String
    @Option(name: .long, help: "Directory for report.md, report.html and results.json.")
    var output: String
    @Flag(name: .long, help: "Print results.json on stdout.")
    var json = false
    @Flag(name: .long, help: "No progress on stderr.")
    var quiet = false

    func run() throws {
        try reportingErrors {
            let results = try OptimizedResults.build(try OptimizedManifest.load(manifest))
            // Everything is rendered before anything is written: a bad input leaves no partial report.
            let files: [(String, Data)] = [
                ("results.json", try results.json()), ("report.md", Data(results.markdown().utf8)), ("report.html", Data(results.html().utf8)),
            ]
            let dir = URL(fileURLWithPath: output)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for (name, data) in files { try writeAtomically(data, to: dir.appendingPathComponent(name)) }
            if json { printOut(String(decoding: files[0].1, as: UTF8.self)) }
            if !quiet { FileHandle.standardError.write(Data("wrote \(output)/report.md, report.html, results.json\n".utf8)) }
        }
    }
}
