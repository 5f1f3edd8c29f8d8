import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The data path of remote files answered through the filter's user-notification
/// listener instead of ptrace stops: the same results, nothing lost to signals
/// or threads, and `--ptrace-only` as the way back.
@Suite struct AnsweredCallTests {
    static func randomBytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255) } }

    @Test func remoteReadsAndWritesAreAnsweredUnlessPtraceOnly() throws {
        try withChirpServer { server in
            server.write("/in.txt", "first line\nsecond line\n")
            let script = "cat $C/in.txt; echo more >> $C/in.txt; tail -n 1 $C/in.txt"
            let answered = ChirpAgentTests.agent(server, script, options: ["--no-cache", "-d", "syscall"])
            let stopped = ChirpAgentTests.agent(server, script, options: ["--no-cache", "--ptrace-only", "-d", "syscall"])
            #expect(answered.status == 0 && stopped.status == 0, "\(answered)\n\(stopped)")
            #expect(answered.stdout == "first line\nsecond line\nmore\n", "\(answered)")
            #expect(stopped.stdout == "first line\nsecond line\nmore\nmore\n", "\(stopped)")
            // Reads, writes and closes of virtual descriptors (2^16 and up).
            func dataCalls(_ log: String) -> [Substring] {
                log.split(separator: "\n").filter { line in
                    ["] read(0x", "] write(0x", "] close(0x"].contains { call in
                        guard let start = line.range(of: call)?.upperBound else { return false }
                        let digits = line[start...].prefix { $0.isHexDigit }
                        return (UInt64(digits, radix: 16) ?? 0) >= 1 << 16
                    }
                }
            }
            #expect(dataCalls(answered.stderr).count >= 6, "\(answered.stderr)")
            #expect(dataCalls(answered.stderr).allSatisfy { $0.hasSuffix("[answered]") }, "\(answered.stderr)")
            #expect(dataCalls(stopped.stderr).count >= 6, "\(stopped.stderr)")
            #expect(!stopped.stderr.contains("[answered]"), "\(stopped.stderr)")
        }
    }

    /// A signal every 100 µs interrupts calls waiting for their answer: taken
    /// ones must finish (their remote side effect happened), others restart.
    @Test func signalsDuringAnsweredCallsLoseNothing() throws {
        try withChirpServer { server in
            let bytes = Self.randomBytes(3 << 20)
            server.write("/in.bin", bytes)
            let copy = """
                import hashlib, os, signal, sys
                ticks = [0]
                def tick(*_): ticks[0] += 1
                signal.signal(signal.SIGALRM, tick)
                signal.setitimer(signal.ITIMER_REAL, 0.0001, 0.0001)
                source = os.open(sys.argv[1], os.O_RDONLY)
                target = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                digest = hashlib.sha256()
                while True:
                    block = os.read(source, 3000)
                    if not block: break
                    digest.update(block)
                    done = 0
                    while done < len(block): done += os.write(target, block[done:])
                os.close(target)
                signal.setitimer(signal.ITIMER_REAL, 0)
                print(digest.hexdigest(), ticks[0] > 100)
                """
            let result = Command.run([Paths.parrot, "run", "--no-cache", "--", "python3", "-c", copy,
                                      ChirpAgentTests.chirpPath(server) + "/in.bin", ChirpAgentTests.chirpPath(server) + "/out.bin"],
                                     timeout: 120)
            let expected = ChirpAgentTests.sha256(server.local("/in.bin"))
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout == "\(expected) True\n", "\(result)")
            #expect(ChirpAgentTests.sha256(server.local("/out.bin")) == expected)
        }
    }

    /// The same with a handler installed without SA_RESTART, in C (Python
    /// retries EINTR itself): a signal that comes before the answerer takes a
    /// call must restart it, as a local file's read is never interrupted.
    @Test func readsOfRemoteFilesAreNeverInterrupted() throws {
        try withChirpServer { server in
            server.write("/in.bin", Self.randomBytes(3 << 20))
            let program = Fixture.binary("eintr", flags: ["-pthread"])
            let native = Command.run([program, server.local("/in.bin"), "4"])
            #expect(native.stdout.hasPrefix("eintr 0, same bytes"), "\(native)")
            for options in [["--no-cache"], ["--no-cache", "--ptrace-only"]] {
                let traced = Command.run([Paths.parrot, "run"] + options + ["--", program,
                                          ChirpAgentTests.chirpPath(server) + "/in.bin", "4"], timeout: 120)
                #expect(traced.status == 0, "\(options): \(traced)")
                #expect(traced.stdout == native.stdout, "\(options): \(traced)")
            }
        }
    }

    /// Threads reading one remote file through their own descriptors and one
    /// shared one: every byte where it belongs.
    @Test func threadsShareAnsweredCalls() throws {
        try withChirpServer { server in
            server.write("/in.bin", Self.randomBytes(1 << 20))
            let program = """
                import hashlib, os, sys, threading
                path = sys.argv[1]
                shared = os.open(path, os.O_RDONLY)
                size = os.fstat(shared).st_size
                pieces = {}
                def own(index):
                    fd = os.open(path, os.O_RDONLY)
                    os.lseek(fd, index * size // 4, os.SEEK_SET)
                    chunks = []
                    left = size // 4
                    while left:
                        block = os.read(fd, min(left, 5000))
                        chunks.append(block)
                        left -= len(block)
                    os.close(fd)
                    pieces[index] = b"".join(chunks)
                def positioned(index):
                    pieces[4 + index] = b"".join(os.pread(shared, 4096, at) for at in range(index * 4096, size, 4 * 4096))
                threads = [threading.Thread(target=own, args=(i,)) for i in range(4)]
                threads += [threading.Thread(target=positioned, args=(i,)) for i in range(4)]
                for t in threads: t.start()
                for t in threads: t.join()
                whole = b"".join(pieces[i] for i in range(4))
                interleaved = bytearray(size)
                for i in range(4):
                    for n, at in enumerate(range(i * 4096, size, 4 * 4096)):
                        interleaved[at:at + 4096] = pieces[4 + i][n * 4096:(n + 1) * 4096]
                print(hashlib.sha256(whole).hexdigest(), hashlib.sha256(interleaved).hexdigest())
                """
            let result = Command.run([Paths.parrot, "run", "--no-cache", "--", "python3", "-c", program,
                                      ChirpAgentTests.chirpPath(server) + "/in.bin"], timeout: 120)
            let expected = ChirpAgentTests.sha256(server.local("/in.bin"))
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout == "\(expected) \(expected)\n", "\(result)")
        }
    }
}
