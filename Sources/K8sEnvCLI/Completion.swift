import ArgumentParser

/// `k8senv completion bash|zsh|fish`: the shell's completion script, as swift-argument-parser
/// generates it for the whole command tree (what the hidden `--generate-completion-script` prints).
struct Completion: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the shell completion script for k8senv: bash, zsh or fish.",
        discussion: """
            Install it once per shell: \
            bash: k8senv completion bash > ~/.local/share/bash-completion/completions/k8senv; \
            zsh: k8senv completion zsh > ~/.zfunc/_k8senv (with fpath+=~/.zfunc before compinit in ~/.zshrc); \
            fish: k8senv completion fish > ~/.config/fish/completions/k8senv.fish.
            """
    )

    enum Shell: String, ExpressibleByArgument, CaseIterable {
        case bash, zsh, fish

        var completionShell: CompletionShell {
            switch self {
            case .bash: .bash
            case .zsh: .zsh
            case .fish: .fish
            }
        }
    }

    @Argument(help: "The shell: bash, zsh or fish.")
    var shell: Shell

    func run() {
        let script = K8sEnvCommand.completionScript(for: shell.completionShell)
        print(script, terminator: script.hasSuffix("\n") ? "" : "\n")  // bash's ends without one
    }
}
