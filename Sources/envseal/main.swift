import EnvSealCLI

await EnvSealCommand.runMain()
