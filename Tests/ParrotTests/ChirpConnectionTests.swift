import Foundation
import ParrotChirp
import ParrotServices
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Authentication, failures of the server and of the network, reconnects.
@Suite struct ChirpConnectionTests {
    @Test func authenticatesWithTheFirstMethodTheServerAccepts() throws {
        try withChirpServer { server in
            let user = String(cString: getpwuid(getuid())!.pointee.pw_name)
            let byDefault = try server.service().whoami()
            #expect(byDefault == "unix:\(user)")
            let byAddress = try server.service { $0.authMethods = [.address, .unix] }.whoami()
            #expect(byAddress == "address:127.0.0.1")
            // The reverse lookup of 127.0.0.1 comes from the host's own tables.
            if Command.run(["getent", "hosts", "127.0.0.1"]).status == 0 {
                let byName = try server.service { $0.authMethods = [.hostname, .address] }.whoami()
                #expect(byName.hasPrefix("hostname:"))
            }
        }
    }

    @Test func skipsMethodsTheServerRefusesOrThatFail() throws {
        try withChirpServer(auth: ["address"]) { server in
            let subject = try server.service().whoami()
            #expect(subject == "address:127.0.0.1")
            #expect(thrownErrno { try server.service { $0.authMethods = [.unix, .hostname] }.stat("/") } == EACCES)
        }
        // The challenge file cannot be created: unix fails and the next method is tried.
        try withChirpServer(auth: ["unix", "address"]) { server in
            Paths.remove(server.directory + "/challenge")
            let subject = try server.service().whoami()
            #expect(subject == "address:127.0.0.1")
        }
    }

    /// A server never reached fails at once, whatever the retry timeout.
    @Test func nothingListeningIsConnectionRefusedAtOnce() {
        let chirp = ChirpFileService(host: "127.0.0.1", port: LoopbackPort.free())
        let start = Deadline.now
        #expect(thrownErrno { try chirp.stat("/") } == ECONNREFUSED)
        #expect(Deadline.now.nanoseconds - start.nanoseconds < 2_000_000_000)
    }

    /// A server that answered before is waited for until the retry timeout,
    /// then the last reason is reported.
    @Test func aServerThatStaysDownFailsAfterTheRetryTimeout() throws {
        try withChirpServer(privatePort: true) { server in
            let chirp = server.service { $0.retryTimeout = 1 }
            _ = try chirp.stat("/")
            server.crash()
            let start = Deadline.now
            #expect(thrownErrno { try chirp.stat("/") } == ECONNREFUSED)
            let seconds = Double(Deadline.now.nanoseconds - start.nanoseconds) / 1e9
            #expect(seconds > 0.5 && seconds < 4, "gave up after \(seconds) s")
        }
    }

    @Test func serverKilledMidTransferIsAnErrorNotAHang() throws {
        try withChirpServer(privatePort: true) { server in
            server.write("/big", [UInt8](repeating: 7, count: 32 << 20))
            let chirp = server.service { $0.retryTimeout = 1 }
            // The local side is a FIFO that this test drains, so the transfer
            // is still running when the server dies.
            let scratch = Paths.temporaryDirectory("chirp-fifo")
            defer { Paths.remove(scratch) }
            let fifo = scratch + "/fifo"
            #expect(mkfifo(fifo, 0o600) == 0)
            let outcome = Outcome()
            Thread.detachNewThread {
                outcome.finish(thrownErrno { try chirp.getFile("/big", to: fifo) })
            }
            let reader = open(fifo, O_RDONLY)
            defer { close(reader) }
            #expect(drain(reader, atMost: 1 << 20) == 1 << 20)
            server.crash()
            _ = drain(reader, atMost: Int.max)
            let code = outcome.wait(seconds: 20)
            #expect(code == ECONNREFUSED || code == ECONNRESET, "getFile ended with \(String(describing: code))")
        }
    }

    @Test func reconnectsAfterARestartAndReopensFiles() throws {
        try withChirpServer(privatePort: true) { server in
            server.write("/f", "0123456789")
            let chirp = server.service()
            let handle = try chirp.open("/f", flags: O_RDONLY, mode: 0)
            #expect(text(try chirp.read(handle, count: 4)) == "0123")
            let port = server.port
            server.crash()
            // Back after a few refused attempts: the backoff rides it out.
            let restarted = Outcome()
            Thread.detachNewThread {
                usleep(300_000)
                restarted.finish((try? server.start(port: port)) == nil ? -1 : nil)
            }
            #expect(text(try chirp.read(handle, count: 4)) == "4567")  // opened again, offset kept
            #expect(restarted.wait(seconds: 10) == nil)

            // Replaced while the server was down: another inode is not the open file.
            server.crash()
            server.write("/f.new", "new")
            rename(server.local("/f.new"), server.local("/f"))
            try server.start(port: port)
            #expect(thrownErrno { try chirp.read(handle, count: 4) } == ESTALE)
            try chirp.close(handle)
            let fresh = try chirp.open("/f", flags: O_RDONLY, mode: 0)
            #expect(text(try chirp.read(fresh, count: 10)) == "new")
        }
    }

    /// The server drops idle clients; a request that must not be repeated
    /// (mkdir) still goes out on a live connection.
    @Test func idleDisconnectsAreRepairedBeforeTheNextRequest() throws {
        try withChirpServer(["--idle-clients=1"]) { server in
            let chirp = server.service()
            _ = try chirp.stat("/")
            usleep(1_500_000)
            try chirp.mkdir("/after-idle", mode: 0o755)
            #expect(localStatus(server.local("/after-idle")).isDirectory)
        }
    }

    @Test func threadsShareOneServiceSafely() throws {
        try withChirpServer { server in
            for i in 0..<4 { server.write("/f\(i)", String(repeating: "\(i)", count: 1000)) }
            let chirp = server.service()
            let failures = Outcome()
            DispatchQueue.concurrentPerform(iterations: 4) { i in
                do {
                    let handle = try chirp.open("/f\(i)", flags: O_RDONLY, mode: 0)
                    for _ in 0..<50 {
                        let size = try chirp.stat("/f\(i)").size
                        let bytes = try chirp.pread(handle, count: 10, at: 990)
                        if size != 1000 || text(bytes) != String(repeating: "\(i)", count: 10) { failures.finish(EIO) }
                    }
                    try chirp.close(handle)
                } catch {
                    failures.finish((error as? ServiceError)?.errno ?? -1)
                }
            }
            #expect(failures.value == nil)
        }
    }
}

/// A result handed from another thread.
private final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private var code: Int32?

    func finish(_ code: Int32?) {
        lock.withLock { self.code = self.code ?? code }
        done.signal()
    }

    var value: Int32? { lock.withLock { code } }

    /// The thread's errno (nil: success); -2 if it did not finish in time.
    func wait(seconds: Double) -> Int32? {
        done.wait(timeout: .now() + seconds) == .success ? value : -2
    }
}

/// Reads up to `limit` bytes, until end of file; each wait at most 20 s.
private func drain(_ fd: Int32, atMost limit: Int) -> Int {
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    var total = 0
    while total < limit {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 20_000) > 0 else { break }
        let count = read(fd, &buffer, min(buffer.count, limit - total))
        if count <= 0 { break }
        total += count
    }
    return total
}
