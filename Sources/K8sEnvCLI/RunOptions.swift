import ArgumentParser
import Foundation
import K8sEnvRunner
import K8sEnvSpec

/// Options of the commands that start environments.
struct RunOptions: ParsableArguments {
    @OptionGroup var config: ConfigOptions

    @Option(
        name: [.short, .customLong("environment")], help: "Start only this environment (repeatable; default: all).")
    var environments: [String] = []

    @OptionGroup var state: StateOptions

    @Flag(help: "Print only errors and the final summary.")
    var quiet = false

    @Flag(help: "Build every environment from scratch: neither read nor write the snapshot cache.")
    var noCache = false

    @Option(help: "Instances per environment, instead of each environment's pool.size.")
    var poolSize: Int?

    @Option(
        help: ArgumentHelp(
            "Record where the start's time goes in this file, as a Chrome trace-event JSON (open it in ui.perfetto.dev or chrome://tracing).",
            valueName: "file"))
    var trace: String?

    func validate() throws {
        if let poolSize, !(1...64).contains(poolSize) { throw ValidationError("--pool-size must be between 1 and 64") }
    }

    var lifecycle: Lifecycle.Options {
        Lifecycle.Options(
            file: config.file, profile: config.profile, environments: environments,
            stateDirectory: state.stateDir, quiet: quiet, noCache: noCache, poolSize: poolSize,
            tracePath: trace.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 })
    }
}

/// Prints a line at once (stdout may be a pipe or a file, which buffer).
let printLine: @Sendable (String) -> Void = { line in
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
