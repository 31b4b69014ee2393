import ArgumentParser
import Foundation
import Pare

@main
struct PareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pare",
        abstract: "Compress diffusion language models and measure what compression does to them.",
        subcommands: [InspectCommand.self, GenerateCommand.self, EvalCommand.self, TrainCommand.self, PruneCommand.self, DropCommand.self, FinetuneCommand.self, CompareCommand.self, ReportCommand.self, InitCommand.self, ConvertCommand.self, ExportCommand.self, BenchCommand.self, TokenizeCommand.self]
    )

    static func main() {
        // SIGINT/SIGTERM remove the temporaries being written, then exit with 128 + signal.
        OutputPath.installSignalCleanup()
        // A damaged file must end in an error, never a hang inside HDF5 (see metadataDeadline).
        CheckpointReader.metadataDeadline = ProcessInfo.processInfo.environment["PARE_METADATA_TIMEOUT"]
            .flatMap(TimeInterval.init).flatMap { $0 > 0 ? $0 : nil } ?? 10
        Allocator.keepFreedBuffers()
        // `pare help NAME` for a NAME that is no subcommand printed the general help with exit 0,
        // so a typo looked like success.
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "help", let name = arguments.dropFirst().first, !name.hasPrefix("-"),
           !configuration.subcommands.contains(where: { $0.configuration.commandName == name }) {
            let known = configuration.subcommands.compactMap { $0.configuration.commandName }.joined(separator: ", ")
            FileHandle.standardError.write(Data("error: unknown subcommand '\(name.escapedForOneLine)' (known: \(known))\n".utf8))
            Foundation.exit(64)
        }
        main(nil)
    }
}

/// Options every subcommand that reads a model shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model file (pare-dlm HDF5). Default: the bundled models/pare-tiny.h5.")
    var model: String?

    @Flag(name: .long, help: "Print one JSON object on stdout; logs go to stderr.")
    var json = false

    @Flag(name: .long, help: "Stream the blocks from the file one at a time (default: when the model would take over half the free memory).")
    var stream = false

    @Flag(name: .long, help: "Hold the whole model in memory.")
    var resident = false

    func validate() throws {
        if stream && resident { throw ValidationError("give at most one of --stream and --resident") }
    }

    var residency: Residency { stream ? .streamed : resident ? .resident : .auto }

    /// The model path: --model, else $PARE_MODEL, else the bundled model found from the
    /// current folder or from the executable's location inside a checkout.
    func resolvedPath() -> String {
        if let model { return model }
        if let env = ProcessInfo.processInfo.environment["PARE_MODEL"], !env.isEmpty { return env }
        let bundled = "models/pare-tiny.h5"
        if FileManager.default.fileExists(atPath: bundled) { return bundled }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent(bundled).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return bundled
    }

    /// Opens the model, resident or streamed as asked (or as its size decides).
    func load() throws -> LoadedModel {
        let loaded = try ModelFile.open(resolvedPath(), residency: residency)
        if loaded.isStreamed && !json { log("streaming \(resolvedPath()) block by block") }
        return loaded
    }
}

/// Runs a command body; library errors become one line on stderr and exit code 1.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        // One line, whatever the error echoes (a prompt with a line break, a YAML excerpt).
        FileHandle.standardError.write(Data("error: \("\(error)".escapedForOneLine)\n".utf8))
        throw ExitCode(1)
    }
}

func log(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Throws a usage error unless `value` of option `name` lies in `range`: every count and size a
/// user gives is bounded, so an absurd value is an error rather than an allocation failure.
func requireRange(_ name: String, _ value: Int, _ range: ClosedRange<Int>) throws {
    if !range.contains(value) { throw ValidationError("\(name) must be in \(range.lowerBound)...\(range.upperBound) (got \(value))") }
}

/// A one-line error of the CLI's own (a file it cannot read, an option it cannot honour).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Prints an Encodable value as one line of JSON on stdout, keys in snake_case, sorted.
func printEncodedJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Prints a JSON object (one line) on stdout.
func printJSON(_ object: Any) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    print(String(decoding: data, as: UTF8.self))
}
