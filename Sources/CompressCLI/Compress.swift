import ArgumentParser
import Console
import Evaluation
import Foundation
import Runtime
import Tensors

/// `compress`: make trained models smaller and faster on CPU, and measure it.
@main
struct Compress: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Load, evaluate, optimize and compare neural network models on CPU.",
        version: "0.1.0",
        subcommands: [
            InspectCommand.self, PredictCommand.self, EvalCommand.self, RunCommand.self, CompareCommand.self, SensitivityCommand.self,
            ParallelCommand.self, ServeCommand.self, WorkerCommand.self, BenchCommand.self, ProfileCommand.self, ReportCommand.self,
        ]
    )
}

/// Options every command shares.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Compute threads (default: all cores).")
    var threads: Int?
    @Flag(name: .long, help: "No progress on stderr (errors are still reported).")
    var quiet = false
    @Flag(name: .long, help: "Skip checking artifact weights against the sha256 in model.json (faster loads).")
    var noVerify = false

    /// Whether artifact checksums are checked at load.
    var verify: Bool { !noVerify }

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// The executor every forward pass of the command runs on; also caps OpenBLAS (used only by GPTQ/AWQ).
    func makeExecutor() -> Executor {
        let n = threads ?? Executor.availableCores
        Executor.setBLASThreads(n)
        return Executor(threads: n)
    }

    /// Progress on stderr: a bar on a terminal, concise lines otherwise, nothing with `--quiet`.
    func progress() -> ProgressReporter { .standardError(quiet: quiet) }
}

/// Runs a command body and turns any error into one line on stderr and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do { try body() } catch let e as ExitCode { throw e } catch {
        let line = "\(error)".replacingOccurrences(of: "\n", with: " ")
        FileHandle.standardError.write(Data("compress: error: \(line)\n".utf8))
        throw ExitCode(1)
    }
}

/// `reportingErrors` for async command bodies.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do { try await body() } catch let e as ExitCode { throw e } catch {
        let line = "\(error)".replacingOccurrences(of: "\n", with: " ")
        FileHandle.standardError.write(Data("compress: error: \(line)\n".utf8))
        throw ExitCode(1)
    }
}

/// Writes to stdout.
func printOut(_ s: String) { FileHandle.standardOutput.write(Data((s.hasSuffix("\n") ? s : s + "\n").utf8)) }

/// A warning on stderr when a model produced NaN or infinite outputs (the command still succeeds: the numbers are
/// reported, as null in JSON).
func warnNonFinite(_ count: Int, of total: Int?) {
    guard count > 0 else { return }
    let of = total.map { " of \($0)" } ?? ""
    FileHandle.standardError.write(Data("compress: warning: \(count)\(of) output values are NaN or infinite\n".utf8))
}

/// A warning on stderr when input arrays hold NaN or infinite values (ReLU and max pooling can hide them from the
/// outputs, so they are counted where they enter).
func warnNonFiniteInputs(_ data: EvalData) {
    guard case let .tensor(t) = data.items else { return }
    let count = NonFinite.count(t)
    guard count > 0 else { return }
    FileHandle.standardError.write(Data("compress: warning: \(data.spec): \(count) of \(t.count) input values are NaN or infinite\n".utf8))
}
