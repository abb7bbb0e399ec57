import K8sEnvKine

await KineCommand.main()
