import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A cached file written through the agent whose write-back fails: the
/// program's close() says why (as a local filesystem's would when it cannot
/// flush), and the data stays in the cache directory. Files opened only for
/// writing are streamed instead (CachedOpen.streamsWrites), so these open
/// theirs for reading and writing.
@Suite struct WriteBackFailureTests {
    /// Opens every path for writing and writes its name into it, says so in
    /// `ready`, waits for `go`, then closes each and prints each close's
    /// errno name (0 when it succeeded).
    static let writer = """
        import errno, os, sys, time
        ready, go, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
        fds = [os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644) for p in paths]
        for fd, p in zip(fds, paths): os.write(fd, p.encode() + b"\\n")
        open(ready, "w").close()
        while not os.path.exists(go): time.sleep(0.01)
        out = []
        for fd in fds:
            try: os.close(fd); out.append("0")
            except OSError as e: out.append(errno.errorcode[e.errno])
        print(" ".join(out))
        """

    /// Runs `writer` on `paths` under the agent; `meanwhile` runs between the
    /// writes and the closes.
    static func write(_ paths: [String], cache: String, options: [String] = [],
                      meanwhile: @escaping @Sendable () -> Void) -> CommandResult {
        let ready = cache + "/ready", go = cache + "/go"
        let helper = Thread {
            let deadline = Date().addingTimeInterval(60)
            while !FileManager.default.fileExists(atPath: ready) && Date() < deadline { usleep(10_000) }
            meanwhile()
            FileManager.default.createFile(atPath: go, contents: nil)
        }
        helper.start()
        return Command.run([Paths.parrot, "run", "-t", cache] + options + ["--", "python3", "-c", writer, ready, go] + paths,
                           timeout: 90)
    }

    /// The copies the agent kept because they could not go back, by contents.
    static func unsent(_ cache: String) -> [String] {
        let directory = cache + "/parrot-copies/cache"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.contains(".unsent.") }.map { localContents(directory + "/" + $0) }.sorted()
    }

    @Test(arguments: ChirpServerKind.allCases)
    func aWriteRightRemovedBeforeTheCloseIsEACCES(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            server.makeDirectory("/locked")
            server.write("/locked/.__acl", ChirpServer.defaultACL)
            let c = "/chirp/127.0.0.1:\(server.port)"
            let result = Self.write([c + "/locked/f", c + "/fine"], cache: cache) {
                server.write("/locked/.__acl", "unix:* rl\naddress:127.0.0.1 rl\nhostname:* rl\n")
            }
            #expect(result.stdout == "EACCES 0\n", "\(result)")
            #expect(result.stderr.contains("cannot write \(c)/locked/f back"), "\(result)")
            // The data is kept; the other file went back as usual.
            #expect(Self.unsent(cache) == [c + "/locked/f\n"])
            #expect(localContents(server.local("/fine")) == c + "/fine\n")
        }
    }

    @Test func aServerGoneIsAnIOErrorAndEveryWatchedCloseSaysSo() throws {
        let server = try ChirpServer(privatePort: true)
        defer { server.finish() }
        let cache = Paths.temporaryDirectory("cache")
        defer { Paths.remove(cache) }
        let c = "/chirp/127.0.0.1:\(server.port)"
        // More files open at once than numbers the agent watches: the closes
        // past them succeed (the failure is only logged) and keep the data all the same.
        let count = 20
        let paths = (0..<count).map { "\(c)/f\($0)" }
        let result = Self.write(paths, cache: cache, options: ["-T", "1"]) { server.crash() }
        let watched = 8  // StackedFilters.maxWatchedCloses
        let expected = Array(repeating: "EIO", count: watched) + Array(repeating: "0", count: count - watched)
        #expect(result.stdout == expected.joined(separator: " ") + "\n", "\(result)")
        #expect(Self.unsent(cache) == paths.map { $0 + "\n" }.sorted(), "\(result)")
    }

    /// A fresh server of `kind` whose /small is a 64 KiB tmpfs, and a cache directory.
    static func withSmallFilesystem(_ kind: ChirpServerKind,
                                    _ body: (any ChirpTestServer, String) throws -> Void) throws {
        try withChirpServer(kind) { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            server.makeDirectory("/small")
            let mount = Command.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0777", "tmpfs", server.local("/small")])
            try #require(mount.status == 0, "\(mount)")
            defer { Command.run(["umount", "-l", server.local("/small")]) }
            try body(server, cache)
        }
    }

    @Test(.enabled(if: getuid() == 0, "mounts a small tmpfs"), arguments: ChirpServerKind.allCases)
    func aFullFilesystemIsENOSPC(_ kind: ChirpServerKind) throws {
        try Self.withSmallFilesystem(kind) { server, cache in
            let c = "/chirp/127.0.0.1:\(server.port)"
            let big = String(repeating: "x", count: 200_000)
            let script = """
                import errno, os, sys
                fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
                os.write(fd, b"x" * 200000)
                try: os.close(fd); print("closed")
                except OSError as e: print(errno.errorcode[e.errno])
                with open(sys.argv[2], "w") as f: f.write("small\\n")
                print("small closed")
                """
            let result = Command.run([Paths.parrot, "run", "-t", cache, "--", "python3", "-c", script,
                                      c + "/small/big", c + "/small/ok"], timeout: 90)
            #expect(result.stdout == "ENOSPC\nsmall closed\n", "\(result)")
            #expect(Self.unsent(cache) == [big])
            #expect(localContents(server.local("/small/ok")) == "small\n")
            // Shells: the command's own close of stdout (coreutils check it)
            // reports, when the shell does not hold the file itself (bash
            // redirects in the child, dash in pipelines); a builtin's
            // redirection ends in the shell's dup2, which reports nothing.
            // A redirection opens write-only: streamed, then made real on a
            // local copy by the dup2, which keeps the data.
            let shell = Command.run([Paths.parrot, "run", "-t", cache, "--", "bash", "-c", """
                head -c 100000 /dev/zero > \(c)/small/bash; echo "bash $?"
                head -c 100000 /dev/zero | cat > \(c)/small/pipe; echo "pipeline $?"
                printf '%100000s' x > \(c)/small/builtin; echo "builtin $?"
                """], timeout: 90)
            #expect(shell.stdout == "bash 1\npipeline 1\nbuiltin 0\n", "\(shell)")
            #expect(shell.stderr.contains("head: write error: No space left on device")
                    && shell.stderr.contains("cat: write error: No space left on device")
                    && shell.stderr.contains("its data is kept in \(cache)/parrot-copies/copy."), "\(shell)")
            #expect(Self.unsent(cache) == [big], "\(shell)")
            // Streamed (--no-cache): the redirection materializes a local copy,
            // whose close reports the same way; the data stays in that copy.
            let streamed = Command.run([Paths.parrot, "run", "--no-cache", "-t", cache, "--", "bash", "-c",
                                        "head -c 100000 /dev/zero | cat > \(c)/small/streamed; echo \"streamed $?\""],
                                       timeout: 90)
            #expect(streamed.stdout == "streamed 1\n" && streamed.stderr.contains("cat: write error: No space left on device")
                    && streamed.stderr.contains("its data is kept in \(cache)/parrot-copies/copy."), "\(streamed)")
        }
    }

    /// Appends through a shell's `>>` go out as they come; a server that runs
    /// out of room takes part of them: what landed is never sent twice, the
    /// rest is kept and said where, and nothing after it is lost silently.
    @Test(.enabled(if: getuid() == 0, "mounts a small tmpfs"), arguments: ChirpServerKind.allCases)
    func aRefusedAppendIsNotSentTwice(_ kind: ChirpServerKind) throws {
        try Self.withSmallFilesystem(kind) { server, cache in
            let c = "/chirp/127.0.0.1:\(server.port)"
            let result = Command.run([Paths.parrot, "run", "-t", cache, "--", "bash", "-c",
                                      "exec 3>> \(c)/small/log; seq 1 20000 >&3; ls \(c)/small > /dev/null; exec 3>&-; echo done"],
                                     timeout: 90)
            #expect(result.stdout == "done\n" && result.stderr.contains("data is kept in"), "\(result)")
            let lines = localContents(server.local("/small/log")).split(separator: "\n", omittingEmptySubsequences: false)
            let numbers = lines.dropLast().compactMap { Int($0) }
            #expect(!numbers.isEmpty && numbers == Array(1...numbers.count), "\(lines.count) lines, \(lines.suffix(3))")
        }
    }

    /// A name removed while the file lives on under another (a hard link):
    /// what was written so far goes back first; when the server refuses it,
    /// the data is kept (and said where), not dropped with the name.
    @Test(.enabled(if: getuid() == 0, "mounts a small tmpfs"), arguments: ChirpServerKind.allCases)
    func anEarlyWriteBackThatFailsKeepsTheData(_ kind: ChirpServerKind) throws {
        try Self.withSmallFilesystem(kind) { server, cache in
            server.write("/small/a", "old\n")
            #expect(link(server.local("/small/a"), server.local("/small/h")) == 0)
            let c = "/chirp/127.0.0.1:\(server.port)"
            let script = """
                import errno, os, sys
                fd = os.open(sys.argv[1] + "/small/a", os.O_RDWR)
                os.write(fd, b"y" * 200000)
                try: os.unlink(sys.argv[1] + "/small/a")
                except OSError: pass  # cctools' server drops the target of a failed putfile itself
                try: os.close(fd); print("closed")
                except OSError as e: print(errno.errorcode[e.errno])
                """
            let result = Command.run([Paths.parrot, "run", "-t", cache, "--", "python3", "-c", script, c], timeout: 90)
            // The close reports the refusal either way. cctools' server: the
            // name's removal failed (see above), so the copy is still the
            // name's. The bundled server removes the name, and the copy goes
            // on to the file (held open for it, see HeldCopy), which refuses
            // it again.
            #expect(result.stdout == "ENOSPC\n"
                    && result.stderr.contains("its data is kept in \(cache)/parrot-copies/cache/"), "\(result)")
            #expect(Self.unsent(cache) == [String(repeating: "y", count: 200_000)], "\(result)")
        }
    }

    /// A descriptor whose file's handle is kept for a copy made real after
    /// the name went: its close still reports its own writes refused, as a
    /// close does, not the copy's close later.
    @Test(.enabled(if: getuid() == 0, "mounts a small tmpfs"))
    func aKeptHandleStillReportsItsDescriptorsRefusalsAtItsClose() throws {
        try Self.withSmallFilesystem(.bundled) { server, cache in
            server.write("/small/a", "old\n")
            #expect(link(server.local("/small/a"), server.local("/small/b")) == 0)
            let script = """
                import errno, os, sys
                def close(fd, name):
                    try: os.close(fd); print(name, "closed")
                    except OSError as e: print(name, errno.errorcode[e.errno])
                fd = os.open(sys.argv[1] + "/small/a", os.O_RDWR)
                os.unlink(sys.argv[1] + "/small/a")
                os.dup2(fd, 5)
                os.write(fd, b"y" * 200000)
                close(fd, "descriptor")
                close(5, "copy")
                """
            let result = Command.run([Paths.parrot, "run", "-t", cache, "--no-cache", "--", "python3", "-c", script,
                                      "/chirp/127.0.0.1:\(server.port)"], timeout: 90)
            #expect(result.stdout == "descriptor ENOSPC\ncopy closed\n", "\(result)")
        }
    }

    /// Streamed writes are sent ahead of their replies: a refusal comes back
    /// from the file's next write, fsync or close, never as a silent success.
    @Test(.enabled(if: getuid() == 0, "mounts a small tmpfs"), arguments: ChirpServerKind.allCases)
    func aStreamedWriteRefusedLaterIsReportedByTheNextCall(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            server.makeDirectory("/small")
            let mount = Command.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0777", "tmpfs", server.local("/small")])
            try #require(mount.status == 0, "\(mount)")
            defer { Command.run(["umount", "-l", server.local("/small")]) }
            let c = "/chirp/127.0.0.1:\(server.port)"
            // Prints the first call that failed and its errno name, or "ok".
            let script = """
                import errno, os, sys
                def attempt(path, chunks, sync):
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    stage = "write"
                    try:
                        for _ in range(chunks): os.write(fd, b"y" * 16384)
                        stage = "fsync"
                        if sync: os.fsync(fd)
                        stage = "close"
                        os.close(fd)
                    except OSError as e:
                        if stage != "close":
                            try: os.close(fd)
                            except OSError: pass
                        return stage + " " + errno.errorcode[e.errno]
                    return "ok"
                print(attempt(sys.argv[1], 20, False))
                os.unlink(sys.argv[1])
                print(attempt(sys.argv[1], 20, False))
                os.unlink(sys.argv[1])
                fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.write(fd, b"z" * 200000)
                try: os.fsync(fd); print("fsync ok")
                except OSError as e: print("fsync " + errno.errorcode[e.errno])
                os.close(fd)
                os.unlink(sys.argv[2])
                print(attempt(sys.argv[3], 2, True))
                """
            let result = Command.run([Paths.parrot, "run", "--no-cache", "--", "python3", "-c", script,
                                      c + "/small/a", c + "/small/b", c + "/small/c"], timeout: 90)
            let lines = result.stdout.split(separator: "\n").map(String.init)
            try #require(lines.count == 4, "\(result)")
            // Which call reports depends on when the reply is read; that one does.
            for line in lines[0...1] {
                #expect(line == "write ENOSPC" || line == "close ENOSPC", "\(result)")
            }
            #expect(lines[2] == "fsync ENOSPC", "\(result)")
            #expect(lines[3] == "ok", "\(result)")
            #expect(localContents(server.local("/small/c")) == String(repeating: "y", count: 32768))
        }
    }

    /// Children inherit the watch: a child's close that is not the last says
    /// nothing, the last close (parent or child) reports, and a watched number
    /// that means another file in the child passes through.
    @Test func closesInForkedChildren() throws {
        try withChirpServer(.bundled) { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            server.makeDirectory("/locked")
            let lock = "unix:* rl\naddress:127.0.0.1 rl\nhostname:* rl\n"
            let script = """
                import errno, os, sys, time
                acl, lock, d = sys.argv[1], sys.argv[2], sys.argv[3]
                def close(fd, who):
                    try: os.close(fd); said = "0"
                    except OSError as e: said = errno.errorcode[e.errno]
                    os.write(1, f"{who} {said}\\n".encode())  # one write: two processes print
                a, b = os.open(d + "/a", os.O_RDWR | os.O_CREAT), os.open(d + "/b", os.O_RDWR | os.O_CREAT)
                for fd in (a, b): os.write(fd, b"data\\n")
                with open(acl, "w") as f: f.write(lock)
                r, w = os.pipe()
                pid = os.fork()
                if pid == 0:
                    close(a, "child-a")  # the parent still holds it
                    other = os.open("/dev/null", os.O_WRONLY); assert other == a; close(other, "child-null")
                    os.read(r, 1)
                    close(b, "child-b")  # the last
                    os._exit(0)
                close(b, "parent-b")  # the child still holds it
                os.write(w, b"x"); os.waitpid(pid, 0)
                close(a, "parent-a")  # the last
                """
            let c = "/chirp/127.0.0.1:\(server.port)"
            server.write("/locked/.__acl", ChirpServer.defaultACL)
            let result = Command.run([Paths.parrot, "run", "-t", cache, "--", "python3", "-c", script,
                                      server.local("/locked/.__acl"), lock, c + "/locked"], timeout: 90)
            let lines = Set(result.stdout.split(separator: "\n").map(String.init))
            #expect(lines == ["child-a 0", "child-null 0", "parent-b 0", "child-b EACCES", "parent-a EACCES"], "\(result)")
            #expect(Self.unsent(cache) == ["data\n", "data\n"], "\(result)")
        }
    }

    /// Threads share the stacked filters (TSYNC puts each on every thread):
    /// files opened in four threads and closed there all report.
    @Test func closesInThreads() throws {
        try withChirpServer(.bundled) { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            server.makeDirectory("/locked")
            server.write("/locked/.__acl", ChirpServer.defaultACL)
            let script = """
                import errno, os, sys, threading
                d, acl, lock = sys.argv[1], sys.argv[2], sys.argv[3]
                results = {}
                barrier = threading.Barrier(4)
                def work(i):
                    fd = os.open(f"{d}/t{i}", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.write(fd, b"thread %d\\n" % i)
                    barrier.wait()
                    if i == 0:
                        with open(acl, "w") as f: f.write(lock)
                    barrier.wait()
                    try: os.close(fd); results[i] = "0"
                    except OSError as e: results[i] = errno.errorcode[e.errno]
                threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
                for t in threads: t.start()
                for t in threads: t.join()
                print(" ".join(results[i] for i in range(4)))
                """
            let c = "/chirp/127.0.0.1:\(server.port)"
            let result = Command.run([Paths.parrot, "run", "-t", cache, "--", "python3", "-c", script, c + "/locked",
                                      server.local("/locked/.__acl"), "unix:* rl\naddress:127.0.0.1 rl\nhostname:* rl\n"],
                                     timeout: 90)
            #expect(result.stdout == "EACCES EACCES EACCES EACCES\n", "\(result)")
            #expect(Self.unsent(cache) == (0..<4).map { "thread \($0)\n" }, "\(result)")
        }
    }
}
