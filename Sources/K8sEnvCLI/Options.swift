import ArgumentParser
import K8sEnvRunner

/// `-f`: the config file, declared once for every command that reads or locates a config.
struct ConfigFileOption: ParsableArguments {
    @Option(name: [.short, .customLong("file")], help: "The config file.")
    var file: String = "k8senv.yaml"
}

/// `-f` and `--profile`: the commands that read a config (a profile changes what they read).
struct ConfigOptions: ParsableArguments {
    @OptionGroup var source: ConfigFileOption

    @Option(help: "A profile of the config to apply.")
    var profile: String?

    var file: String {
        get { source.file }
        set { source.file = newValue }
    }
}

/// `--state-dir`: the commands that find a run through the state folder (`up`, `run`, `down`,
/// `env`, `status`, `diff`, `audit`, `acquire`, `release`).
struct StateOptions: ParsableArguments {
    @Option(help: "The state folder (default: .k8senv next to the config file).")
    var stateDir: String?

    /// The folder named by `--state-dir`, else the one next to `configFile`.
    func folder(for configFile: String) -> StateFolder {
        stateDir.map { StateFolder(path: $0) } ?? StateFolder.forConfig(configFile)
    }
}

/// `--probe-binaries` of the commands that check a config without starting it (`validate`,
/// `hash`): without it they run no program the repository could have put there (``BinaryProbe``).
struct ProbeOption: ParsableArguments {
    @Flag(
        help:
            "Run the programs the config names to read their --version and --help even when they are inside the config's folder or named by a path in it (by default only programs on PATH or named by your environment, outside the folder, are run)."
    )
    var probeBinaries = false

    var binaryProbe: BinaryProbe { BinaryProbe(probeRepositoryPrograms: probeBinaries) }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
