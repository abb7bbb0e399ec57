import K8sEnvCLI

await K8sEnvCommand.main()
