import ArgumentParser
import Logging
import ParrotChirpServer
#if canImport(Glibc)
import Glibc
#endif

/// `parrot chirp-server`: the options mirror the reference chirp_server's
/// where they exist (-r, -p, -Z, -I, -a, -c, -A, -R, -t).
struct ChirpServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chirp-server",
        abstract: "Serve a directory over the Chirp protocol.",
        discussion: """
            Listens on 127.0.0.1 unless told otherwise. Rights come from .__acl files
            in each directory, else from --default-acl; without that file only the
            server's own user (unix:NAME) has rights.
            Example:
              parrot chirp-server --root /srv/data --port 0 --port-file port \\
                  -a address -A acl.txt
            """)

    @Option(name: [.customShort("r"), .long], help: "The directory to export.")
    var root: String

    @Option(name: [.customShort("p"), .long], help: "TCP port; 0 picks a free one.")
    var port = 9094

    @Option(name: [.customShort("Z"), .long], help: "Write the bound port to this file once listening.")
    var portFile: String?

    @Option(name: [.customShort("I"), .long], help: "Address to listen on (0.0.0.0 exports to the network).")
    var interface = "127.0.0.1"

    @Option(name: [.customShort("a"), .customLong("auth")],
            help: "An authentication method clients may use: unix, hostname, address (repeatable; default all).")
    var auth: [String] = []

    @Option(name: [.customShort("c"), .long], help: "Directory for unix-method challenge files.")
    var challengeDir = "/tmp"

    @Option(name: [.customShort("A"), .long], help: "ACL file for directories without their own .__acl.")
    var defaultAcl: String?

    @Flag(name: .long, help: "A directory without .__acl takes its nearest ancestor's.")
    var inheritDefaultAcl = false

    @Flag(name: [.customShort("R"), .long], help: "Grant only the read and list rights.")
    var readOnly = false

    @Option(name: [.customShort("t"), .long], help: "Close connections idle for this many seconds.")
    var idleTimeout = 60.0

    @Option(name: .long, help: "Threads for file I/O.")
    var ioThreads = 16

    @Flag(name: .long, help: "Exit when the parent process exits (for tests).")
    var parentDeath = false

    @Option(name: [.customShort("d"), .long], help: "Log level: info, debug (connections) or trace (every request).")
    var logLevel = "info"

    func run() throws {
        // A client gone mid-transfer is that connection's error, not the server's end.
        signal(SIGPIPE, SIG_IGN)
        var configuration = ChirpServerConfiguration(root: root)
        configuration.port = port
        configuration.portFile = portFile
        configuration.interface = interface
        if !auth.isEmpty {
            configuration.authMethods = try auth.map { name in
                guard let method = ChirpAuthMethod(rawValue: name) else {
                    throw ValidationError("--auth \(name): not a method (unix, hostname, address)")
                }
                return method
            }
        }
        configuration.challengeDirectory = challengeDir
        configuration.defaultACLFile = defaultAcl
        configuration.inheritACL = inheritDefaultAcl
        configuration.readOnly = readOnly
        configuration.idleTimeout = idleTimeout
        configuration.ioThreads = ioThreads
        configuration.exitWithParent = parentDeath
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level \(logLevel): not one of trace, debug, info, notice, warning, error")
        }
        var logger = Logger(label: "parrot.chirp-server")
        logger.logLevel = level
        // Files and directories get exactly the mode the client asks for: the
        // client has applied its own umask already.
        umask(0)
        // A ChirpServerError names the option at fault; it ends the command with status 1.
        let server = try ChirpServer(configuration, logger: logger)
        try server.wait()
    }
}
