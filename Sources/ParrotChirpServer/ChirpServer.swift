import Logging
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The bundled Chirp server: SwiftNIO event loops for the connections, a
/// thread pool for every file system call.
public final class ChirpServer: Sendable {
    /// The port it listens on (the one the kernel chose when asked for 0).
    public let port: Int
    private let channel: Channel
    private let group: MultiThreadedEventLoopGroup
    private let pool: NIOThreadPool

    /// Checks `configuration`, then listens. Throws ChirpServerError with a
    /// message naming the option at fault.
    public init(_ configuration: ChirpServerConfiguration, logger: Logger = Logger(label: "parrot.chirp-server")) throws {
        let root = try ChirpServer.openRoot(configuration.root)
        let defaultACL = try ChirpServer.defaultACL(configuration.defaultACLFile)
        if configuration.authMethods.contains(.unix) {
            var st = stat()
            guard stat(configuration.challengeDirectory, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
                throw ChirpServerError("--challenge-dir \(configuration.challengeDirectory): not a directory")
            }
        }
        guard (0...65535).contains(configuration.port) else { throw ChirpServerError("--port \(configuration.port): not a port number") }
        guard configuration.idleTimeout > 0 else { throw ChirpServerError("--idle-timeout must be positive") }

        pool = NIOThreadPool(numberOfThreads: max(1, configuration.ioThreads))
        pool.start()
        group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let access = ChirpAccessControl(root: root, defaultACL: defaultACL,
                                        inherit: configuration.inheritACL, readOnly: configuration.readOnly)
        let context = ChirpServerContext(
            fileSystem: ChirpFileSystem(root: root, access: access),
            authenticator: ChirpAuthenticator(methods: configuration.authMethods,
                                              challengeDirectory: configuration.challengeDirectory,
                                              challengeTimeout: configuration.challengeTimeout, pool: pool),
            pool: pool, logger: logger)
        let idle = TimeAmount.nanoseconds(Int64(configuration.idleTimeout * 1e9))
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Payloads of a megabyte are common: read them in large pieces
            // (NIO's default stops at 64 KiB), small requests stay small.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 4096, maximum: 1 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([IdleStateHandler(allTimeout: idle), ChirpIdleCloser()])
                    let connection = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    Task { await ChirpSession.serve(connection, context: context) }
                }
            }
        do {
            channel = try bootstrap.bind(host: configuration.interface, port: configuration.port).wait()
        } catch {
            try? pool.syncShutdownGracefully()
            try? group.syncShutdownGracefully()
            throw ChirpServerError("cannot listen on \(configuration.interface):\(configuration.port): \(error)")
        }
        port = channel.localAddress?.port ?? configuration.port
        if let portFile = configuration.portFile {
            try ChirpServer.writePortFile(portFile, port: port)
        }
        if configuration.exitWithParent { watchParent() }
        logger.info("serving \(configuration.root) on \(configuration.interface):\(port)")
    }

    /// Blocks until the server is shut down.
    public func wait() throws {
        try channel.closeFuture.wait()
        try pool.syncShutdownGracefully()
        try group.syncShutdownGracefully()
    }

    /// Stops listening; `wait()` then returns.
    public func shutdown() {
        channel.close(promise: nil)
    }

    /// Polls: the parent-death signal of prctl belongs to the parent's thread,
    /// which may end long before a multithreaded parent does.
    private func watchParent() {
        let parent = getppid()
        let channel = self.channel
        channel.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .milliseconds(500)) { task in
            if getppid() != parent {
                task.cancel()
                channel.close(promise: nil)
            }
        }
    }

    private static func openRoot(_ path: String) throws -> ChirpRoot {
        do {
            return try ChirpRoot(path: path)
        } catch {
            let reason = switch error.errno {
            case ENOENT: "no such directory"
            case ENOTDIR: "not a directory"
            case ENOSYS: "this kernel has no openat2 (Linux 5.6 or later is needed to confine paths)"
            default: String(cString: strerror(error.errno))
            }
            throw ChirpServerError("--root \(path): \(reason)")
        }
    }

    /// The file's ACL; without a file, the server's own user has every right.
    private static func defaultACL(_ file: String?) throws -> ChirpACL {
        guard let file else {
            let user = ChirpAuthenticator.userName(getuid()) ?? "\(getuid())"
            return ChirpACL(entries: [.init(subject: "unix:\(user)", rights: ChirpRights(text: "rwlda"))])
        }
        guard let handle = fopen(file, "r") else {
            throw ChirpServerError("--default-acl \(file): \(String(cString: strerror(errno)))")
        }
        defer { fclose(handle) }
        var text = ""
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), handle) != nil { text += String(cString: line) }
        return ChirpACL(text: text)
    }

    /// Written whole, then renamed: a reader never sees a partial number.
    private static func writePortFile(_ path: String, port: Int) throws {
        let temporary = "\(path).\(getpid()).tmp"
        guard let file = fopen(temporary, "w") else {
            throw ChirpServerError("--port-file \(path): \(String(cString: strerror(errno)))")
        }
        fputs("\(port)\n", file)
        let failed = fclose(file) != 0
        guard !failed, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw ChirpServerError("--port-file \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// Closes a connection when IdleStateHandler reports no traffic.
private final class ChirpIdleCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

public struct ChirpServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
