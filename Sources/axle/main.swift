import AxleCLI
import ArgumentParser

AxleCommand.main()
