import EnvSealCLI

EnvSealCommand.runMain()
