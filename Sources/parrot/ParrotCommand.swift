import ArgumentParser

struct ParrotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parrot",
        abstract: "Run unmodified programs with remote storage and a rewritten namespace.",
        discussion: """
            Examples:
              parrot run -- sh -c 'ls -l /usr/bin | wc -l'
              parrot run -M /data=/tmp/work -- sh -c 'cd /data && make'
              parrot run -m mounts.txt -- python3 job.py
            """,
        version: ParrotVersion.string,
        subcommands: [RunCommand.self, FilterCommand.self, ChirpServerCommand.self, PackageCommand.self])
}

enum ParrotVersion {
    static let string = "0.1.0"
}
