import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real programs under the agent reading /http and /https paths served by
/// python's http.server (as it ships, and with HTTP/1.1 keep-alive and
/// Range, and behind TLS), checked against the server's own files.
@Suite struct HTTPAgentTests {
    /// Runs `script` with sh under the agent; `$H` is the server's root path.
    static func agent(_ server: HTTPTestServer, _ script: String, cwd: String? = nil, options: [String] = [],
                      trusted: Bool = true) -> CommandResult {
        Command.run([Paths.parrot, "run"] + (trusted ? server.trust : []) + options
                    + ["--", "/bin/sh", "-c", "H=\(server.base); " + script], cwd: cwd, timeout: 60)
    }

    static func sha256(_ path: String) -> String {
        Command.run(["sha256sum", path]).stdout.split(separator: " ").first.map(String.init) ?? "?"
    }

    /// The files every test reads; returns the big one's bytes.
    @discardableResult
    static func populate(_ server: HTTPTestServer) -> [UInt8] {
        let random = FileHandle(forReadingAtPath: "/dev/urandom")!
        defer { try? random.close() }
        let bytes = [UInt8](random.readData(ofLength: 3 << 20 + 4321))
        server.write("/big.bin", bytes)
        server.write("/list.txt", (1...5000).shuffled().map { "line \($0)\n" }.joined())
        server.write("/a.json", "[1, 2, 3, {\"four\": 4}]\n")
        server.write("/empty", "")
        server.write("/dir/x.txt", "x\n")
        server.write("/dir/sub dir/in.txt", "in\n")
        server.write("/b&c.json", "{}\n")
        server.write("/\u{fc}n\u{ef}.txt", "u\n")
        return bytes
    }

    @Test(arguments: HTTPTestServer.Kind.allCases)
    func copiesOutIntact(kind: HTTPTestServer.Kind) throws {
        try withHTTPServer(kind) { server in
            Self.populate(server)
            let work = Paths.temporaryDirectory("http-copy")
            defer { Paths.remove(work) }
            let expected = Self.sha256(server.local("/big.bin"))
            for (label, options) in [("cached", [String]()), ("streamed", ["--no-cache"])] {
                let result = Self.agent(server, """
                    cp $H/big.bin \(label).bin && cat $H/big.bin | sha256sum && dd if=$H/big.bin of=\(label)-dd.bin bs=64k status=none
                    """, cwd: work, options: options)
                #expect(result.status == 0, "\(label): \(result)")
                #expect(result.stdout.hasPrefix(expected), "\(label): \(result)")
                #expect(Self.sha256(work + "/\(label).bin") == expected, "\(label)")
                #expect(Self.sha256(work + "/\(label)-dd.bin") == expected, "\(label)")
            }
        }
    }

    @Test(arguments: HTTPTestServer.Kind.allCases)
    func listsTheServersDirectories(kind: HTTPTestServer.Kind) throws {
        try withHTTPServer(kind) { server in
            Self.populate(server)
            let traced = Self.agent(server, """
                ls $H; ls $H/dir/; ls -l $H/dir | sed 1d | cut -c1-10; \
                stat -c '%n %s %Y %a %F' $H/a.json $H/big.bin $H/empty $H/dir "$H/dir/sub dir"; echo status $?
                """)
            let native = Command.run(["ls", server.root]).stdout + Command.run(["ls", server.local("/dir")]).stdout
            func mtime(_ path: String) -> Int {
                let date = try? FileManager.default.attributesOfItem(atPath: server.local(path))[.modificationDate] as? Date
                return Int(date?.timeIntervalSince1970.rounded(.down) ?? -1)
            }
            let size = (try FileManager.default.attributesOfItem(atPath: server.local("/big.bin"))[.size] as? Int) ?? -1
            #expect(traced.status == 0, "\(traced)")
            #expect(traced.stdout == native + """
                dr-xr-xr-x
                -r--r--r--
                \(server.base)/a.json 23 \(mtime("/a.json")) 444 regular file
                \(server.base)/big.bin \(size) \(mtime("/big.bin")) 444 regular file
                \(server.base)/empty 0 \(mtime("/empty")) 444 regular empty file
                \(server.base)/dir 0 0 555 directory
                \(server.base)/dir/sub dir 0 0 555 directory
                status 0

                """, "\(traced)")
        }
    }

    /// HTTP has no symbolic links, so `..` and a working directory are taken
    /// as spelled, with no question about the components before them: a
    /// store that answers 404 for a directory (S3, a CDN) still serves
    /// `a/../b` and `cd`.
    @Test func dotDotOverHTTPAsksNothingMore() throws {
        try withHTTPServer(.ranges) { server in
            Self.populate(server)
            let result = Self.agent(server, "cat $H/dir/nothing/../x.txt $H/_status/404/../../dir/x.txt; cd $H/dir && cat ../dir/x.txt")
            #expect(result.status == 0 && result.stdout == "x\nx\nx\n", "\(result)")
        }
    }

    /// Reads at offsets (tail -c, python seek) from the cached copy and
    /// streamed (GET with Range, or skipping when the server ignores Range).
    @Test(arguments: HTTPTestServer.Kind.allCases)
    func readsAtOffsets(kind: HTTPTestServer.Kind) throws {
        try withHTTPServer(kind) { server in
            Self.populate(server)
            let reader = """
                import hashlib, os, sys
                f = open(sys.argv[1], "rb")
                size = os.fstat(f.fileno()).st_size
                for offset, count in ((1234567, 100000), (size - 5, 100), (size, 10), (size + 10, 10), (0, 3)):
                    f.seek(offset)
                    data = f.read(count)
                    print(offset, len(data), hashlib.sha256(data).hexdigest()[:16])
                print(len(os.pread(f.fileno(), 7, size)))
                """
            let native = Command.run(["python3", "-c", reader, server.local("/big.bin")])
            let nativeTail = Command.shell("tail -c 1000 '\(server.local("/big.bin"))' | sha256sum").stdout
            #expect(native.status == 0, "\(native)")
            for options in [[], ["--no-cache"]] {
                let traced = Self.agent(server, "tail -c 1000 $H/big.bin | sha256sum; python3 -c '\(reader)' $H/big.bin",
                                        options: options)
                #expect(traced.status == 0, "\(options): \(traced)")
                #expect(traced.stdout == nativeTail + native.stdout, "\(options): \(traced)")
            }
        }
    }

    /// Streamed reads in order, then reads that jump back, forward, past the
    /// end and across the file in large ranges give the file's bytes.
    @Test func streamedReadsInOrderAndAtRandom() throws {
        try withHTTPServer(.ranges) { server in
            Self.populate(server)
            let reader = """
                import hashlib, os, sys
                fd = os.open(sys.argv[1], os.O_RDONLY)
                size = os.fstat(fd).st_size
                out = []
                for _ in range(12):
                    out.append(hashlib.sha256(os.read(fd, 65536)).hexdigest()[:12])
                for offset, count in ((100, 5000), (700000, 131072), (650000, 100000), (size - 10, 100),
                                      (size + 5, 10), (3, 1 << 20), (1 << 20, 1 << 20), (2 << 20, 4 << 20)):
                    data = os.pread(fd, count, offset)
                    out.append("%d %d %s" % (offset, len(data), hashlib.sha256(data).hexdigest()[:12]))
                print(" ".join(out))
                """
            let native = Command.run(["python3", "-c", reader, server.local("/big.bin")])
            #expect(native.status == 0, "\(native)")
            let traced = Self.agent(server, "python3 -c '\(reader)' $H/big.bin", options: ["--no-cache"])
            #expect(traced.status == 0 && traced.stdout == native.stdout, "\(traced)")
        }
    }

    /// A file streamed in order costs one request for its rest, not one a
    /// read (the first read is a bounded GET: it may be random access).
    @Test func aFileReadInOrderIsOneStream() throws {
        try withHTTPServer(.ranges) { server in
            let bytes = Self.populate(server)
            let result = Self.agent(server, "cat $H/big.bin | cksum", options: ["--no-cache"])
            let native = Command.shell("cksum < '\(server.local("/big.bin"))'")
            #expect(result.status == 0 && result.stdout == native.stdout, "\(result)")
            let gets = Command.run(["curl", "-s", "http://127.0.0.1:\(server.port)/_gets/big.bin"]).stdout
            // cat reads 128 KiB at a time: 26 reads of this file.
            #expect(bytes.count > 20 * (128 << 10) && Int(gets) == 2, "GETs of big.bin: \(gets)")
        }
    }

    /// A file replaced within the same second by one of the same size has
    /// the same Last-Modified and Content-Length: only its ETag tells the
    /// cached copy is stale.
    @Test func cacheRevalidatesByETag() throws {
        try withHTTPServer(.ranges) { server in
            let cache = Paths.temporaryDirectory("http-etag-cache")
            defer { Paths.remove(cache) }
            let file = server.local("/v.txt")
            server.write("/v.txt", "first\n")
            var times = [timespec(tv_sec: 1_700_000_000, tv_nsec: 100), timespec(tv_sec: 1_700_000_000, tv_nsec: 100)]
            utimensat(AT_FDCWD, file, &times, 0)
            let first = Self.agent(server, "cat $H/v.txt", options: ["-t", cache])
            #expect(first.stdout == "first\n", "\(first)")
            server.write("/v.txt", "again\n")
            times = [timespec(tv_sec: 1_700_000_000, tv_nsec: 900), timespec(tv_sec: 1_700_000_000, tv_nsec: 900)]
            utimensat(AT_FDCWD, file, &times, 0)
            let second = Self.agent(server, "cat $H/v.txt", options: ["-t", cache])
            #expect(second.status == 0 && second.stdout == "again\n", "a stale copy: \(second)")
            let kept = FileManager.default.enumerator(atPath: cache)?.allObjects.compactMap { $0 as? String } ?? []
            #expect(kept.contains { $0.hasSuffix(".meta") }, "nothing was cached in \(cache): \(kept)")
        }
    }

    /// What a program sees for each answer a server can give.
    @Test(arguments: [HTTPTestServer.Kind.plain, .ranges])
    func answersMapToErrnos(kind: HTTPTestServer.Kind) throws {
        try withHTTPServer(kind) { server in
            Self.populate(server)
            let probe = """
                import errno, os, sys
                base = sys.argv[1]
                def attempt(label, call):
                    try:
                        call()
                        print(label, "ok")
                    except OSError as e:
                        print(label, errno.errorcode[e.errno])
                def read(path):
                    with open(base + path, "rb") as f:
                        f.read()
                for path in ("/_status/404", "/_status/410", "/_status/401", "/_status/403", "/_status/500",
                             "/_status/503", "/nope", "/_flaky/a.json", "/_moved/a.json", "/_loop"):
                    attempt(path, lambda: read(path))
                attempt("write", lambda: open(base + "/new", "w"))
                attempt("update", lambda: open(base + "/a.json", "r+"))
                attempt("mkdir", lambda: os.mkdir(base + "/newdir"))
                attempt("unlink", lambda: os.unlink(base + "/a.json"))
                attempt("rename", lambda: os.rename(base + "/a.json", base + "/b.json"))
                attempt("chmod", lambda: os.chmod(base + "/a.json", 0o600))
                attempt("refused", lambda: read("/../127.0.0.1:1/x"))
                fd = os.open(base + "/a.json", os.O_RDONLY)
                print("eof", len(os.pread(fd, 10, os.fstat(fd).st_size)))
                """
            let expected = """
                /_status/404 ENOENT
                /_status/410 ENOENT
                /_status/401 EACCES
                /_status/403 EACCES
                /_status/500 EIO
                /_status/503 EIO
                /nope ENOENT
                /_flaky/a.json ok
                /_moved/a.json ok
                /_loop ELOOP
                write EROFS
                update EROFS
                mkdir EROFS
                unlink EROFS
                rename EROFS
                chmod EROFS
                refused ECONNREFUSED
                eof 0

                """
            for options in [[], ["--no-cache"]] {
                let traced = Self.agent(server, "python3 -c '\(probe)' $H", options: options)
                #expect(traced.status == 0, "\(options): \(traced)")
                #expect(traced.stdout == expected, "\(options): \(traced)")
            }
        }
    }

    /// A server that closes the connection mid-body: resumed when it answers
    /// again, EIO when it always does; never a short file passed off as whole.
    @Test(arguments: [HTTPTestServer.Kind.plain, .ranges])
    func serverDisconnectingMidTransfer(kind: HTTPTestServer.Kind) throws {
        try withHTTPServer(kind) { server in
            Self.populate(server)
            let work = Paths.temporaryDirectory("http-cut")
            defer { Paths.remove(work) }
            let expected = Self.sha256(server.local("/big.bin"))
            let once = Self.agent(server, "cp $H/_cutonce/big.bin once.bin", cwd: work)
            #expect(once.status == 0, "\(once)")
            #expect(Self.sha256(work + "/once.bin") == expected)
            for options in [[], ["--no-cache"]] {
                let always = Self.agent(server, "cat $H/_cut/big.bin > always.bin", cwd: work, options: options)
                #expect(always.status != 0, "\(options): \(always)")
                #expect(always.stderr.contains("Input/output error"), "\(options): \(always)")
            }
        }
    }

    @Test func httpsWithTheCertificateTrusted() throws {
        try withHTTPServer(.tls) { server in
            Self.populate(server)
            let traced = Self.agent(server, """
                sort $H/list.txt | head; python3 -c 'import json; print(len(json.load(open("'$H'/a.json"))))'
                """)
            let native = Command.shell("sort '\(server.local("/list.txt"))' | head")
            #expect(traced.status == 0, "\(traced)")
            #expect(traced.stdout == native.stdout + "4\n", "\(traced)")
        }
    }

    /// Without --ca-file the self-signed certificate is refused: the program
    /// gets EACCES and the person running it is told why, once.
    @Test func httpsRefusesAnUntrustedCertificate() throws {
        try withHTTPServer(.tls) { server in
            Self.populate(server)
            let untrusted = Self.agent(server, "cat $H/a.json; cat $H/list.txt", trusted: false)
            #expect(untrusted.status == 1, "\(untrusted)")
            #expect(untrusted.stdout == "", "\(untrusted)")
            #expect(untrusted.stderr.contains("cat: '\(server.base)/a.json': Permission denied"), "\(untrusted)")
            #expect(untrusted.stderr.contains("certificate verify failed: self-signed certificate"), "\(untrusted)")
            let other = Self.agent(server, "cat /https/localhost:\(server.port)/a.json")
            #expect(other.status == 1, "\(other)")
            #expect(other.stderr.contains("certificate verify failed: hostname mismatch"), "\(other)")
        }
    }

    /// The examples of the README.
    @Test func readmeExamples() throws {
        try withHTTPServer(.plain) { server in
            Self.populate(server)
            let traced = Self.agent(server, """
                sort $H/list.txt | head -3; python3 -c 'import json; print(len(json.load(open("'$H'/a.json"))))'
                """)
            let native = Command.shell("sort '\(server.local("/list.txt"))' | head -3")
            #expect(traced.status == 0, "\(traced)")
            #expect(traced.stdout == native.stdout + "4\n", "\(traced)")
        }
    }
}
