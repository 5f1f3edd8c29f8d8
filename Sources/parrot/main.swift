import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

// Installed or linked as `parrot_run`, the binary behaves as `parrot run`.
var arguments = Array(CommandLine.arguments.dropFirst())
if let name = CommandLine.arguments.first?.split(separator: "/").last, name == "parrot_run" {
    arguments.insert("run", at: 0)
}
ParrotCommand.main(arguments)
