import Foundation
import Testing

/// Hard links of a remote file are one file under the agent, as on a local
/// filesystem: one device and inode under every name (tar, cp -a and du tell
/// links apart by them), one cached copy, and a write through one name shows
/// through the others.
@Suite struct HardLinkTests {
    /// /d/a with the links /d/b and /d/c, written in place (a new file would
    /// leave the links behind).
    static func linkedFiles(_ server: any ChirpTestServer, _ contents: String = "old\n") {
        try? FileManager.default.removeItem(atPath: server.local("/d"))
        server.makeDirectory("/d")
        server.write("/d/a", contents)
        for name in ["b", "c"] { #expect(link(server.local("/d/a"), server.local("/d/" + name)) == 0) }
    }

    /// Rewrites the server's file in place, keeping its inode and links.
    static func rewrite(_ server: any ChirpTestServer, _ path: String, _ contents: String) {
        let fd = open(server.local(path), O_WRONLY | O_TRUNC)
        #expect(fd >= 0 && write(fd, contents, contents.utf8.count) == contents.utf8.count)
        close(fd)
    }

    /// The script run natively on the server's own directory, then under the
    /// agent with the cache and streamed: the same output each time.
    static func expectNative(_ server: any ChirpTestServer, _ script: String, modes: [[String]], contents: String = "old\n",
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
        let scratch = Paths.temporaryDirectory("links")
        defer { Paths.remove(scratch) }
        linkedFiles(server, contents)
        let native = Command.run(["/bin/sh", "-c", "C=\(server.root); T=\(scratch); " + script])
        #expect(native.status == 0 && !native.stdout.isEmpty, "\(native)", sourceLocation: sourceLocation)
        let cache = Paths.temporaryDirectory("cache")
        defer { Paths.remove(cache) }
        for options in modes {
            linkedFiles(server, contents)
            let (result, _) = try CacheTests.run(server, "T=\(scratch); " + script, cache: cache, options: options)
            #expect(result.status == 0 && result.stdout == native.stdout, "\(options) \(result) native: \(native.stdout)",
                    sourceLocation: sourceLocation)
        }
    }

    static let bothModes = [["--attr-timeout", "0"], ["--attr-timeout", "60"], ["--no-cache"]]

    @Test(arguments: ChirpServerKind.allCases) func linksAreOneFileToTarDuAndCp(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            let script = """
                cd $C/d && tar -cf - . | python3 -c '
                import sys, tarfile
                print(sorted(m.islnk() for m in tarfile.open(fileobj=sys.stdin.buffer, mode="r|")))'
                python3 -c '
                import os, sys
                d = sys.argv[1]
                names = [os.stat(d + "/" + n) for n in ("a", "b", "c")]
                opened = os.fstat(os.open(d + "/c", os.O_RDONLY))
                print(len({(s.st_dev, s.st_ino) for s in names + [opened]}), [s.st_nlink for s in names])' $C/d
                cat $C/d/b >/dev/null
                du -b $C/d/a $C/d/b $C/d/c | wc -l
                cp -a $C/d $T/copy && stat -c %i $T/copy/a $T/copy/b $T/copy/c | sort -u | wc -l
                """
            try Self.expectNative(server, script, modes: Self.bothModes)
        }
    }

    @Test func aWriteThroughOneNameShowsThroughTheOthers() throws {
        try withChirpServer { server in
            // (Streamed, `<>` makes a local copy that goes back at the close.)
            let script = """
                cat $C/d/b $C/d/c >/dev/null; exec 3<> $C/d/a; echo new >&3; cat $C/d/b; exec 3>&-; cat $C/d/c
                echo appended >> $C/d/c; cat $C/d/a; echo whole > $C/d/b; cat $C/d/a $C/d/c
                """
            try Self.expectNative(server, script, modes: [["--attr-timeout", "0"], ["--attr-timeout", "60"]])
            #expect((try? String(contentsOfFile: server.local("/d/a"), encoding: .utf8)) == "whole\n")
        }
    }

    /// A descriptor writes on into its file when the name it was opened
    /// under goes (removed, or given to another file by a rename) and the
    /// file keeps another: made real (`>>`, `>`), cached (`r+`), or opened
    /// through a symbolic link that is then removed. Never into a file that
    /// takes the name later; and the file is still one under its other
    /// names (an append through one lands in the held copy).
    @Test(arguments: ChirpServerKind.allCases) func writesAfterANameGoesReachTheFileUnderItsOtherNames(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            let script = """
                cd $C/d && echo x > x && ln -s c s
                exec 3>>a; echo one >&3; rm a; echo two >&3; exec 3>&-; cat b
                exec 3>b; echo three >&3; rm b; echo four >&3; exec 3>&-; cat c
                ln c e
                python3 -c '
                import os
                f = open("c", "r+"); f.write("FIVE\\n"); f.flush(); os.rename("x", "c"); f.write("SIX\\n"); f.close()
                f = open("s", "r+"); f.seek(0, 2); f.write("SEVEN\\n"); f.flush(); os.unlink("s"); f.write("EIGHT\\n"); f.close()'
                cat e c; ls
                echo zzz > z && ln z z2 && ln e e2
                exec 3>e; echo nine >&3; rm e; echo ten >&3; ln z e; rm e; exec 3>&-; cat e2 z2
                python3 -c '
                import os
                f = open("x2", "w"); f.write("x2\\n"); f.close(); os.link("x2", "y2")
                f = open("x2", "r+"); f.write("AAAA\\n"); f.flush(); os.unlink("x2")
                g = open("y2", "a"); g.write("X\\n"); g.close()
                f.seek(0); f.write("BBBB\\n"); f.close()
                print(open("y2").read(), end="")'
                """
            try Self.expectNative(server, script, modes: Self.bothModes)
        }
    }

    /// A file held since its name went is one file under its last name too
    /// (a link count of one): its stat, a new descriptor's and the held
    /// one's name one device and inode, and show the held copy's bytes.
    @Test(arguments: ChirpServerKind.allCases) func theLastNameOfAHeldFileIsThatFile(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            let script = """
                cd $C/d && rm c && python3 -c '
                import os
                f = open("a", "r+"); f.write("X"); f.flush(); os.unlink("a")
                s = os.stat("b"); g = os.open("b", os.O_RDONLY); t = os.fstat(g); u = os.fstat(f.fileno())
                print((s.st_dev, s.st_ino) == (t.st_dev, t.st_ino) == (u.st_dev, u.st_ino), s.st_nlink, s.st_size, os.read(g, 9))'
                """
            try Self.expectNative(server, script, modes: Self.bothModes)
        }
    }

    /// A length and a mode set through a descriptor after its name went
    /// reach the file under its other names (through the server's
    /// descriptor: held for a copy, the file's own when streamed).
    @Test(arguments: ChirpServerKind.allCases) func aModeAndLengthSetAfterTheNameWentReachTheFile(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            let script = """
                cd $C/d && python3 -c '
                import os
                g = os.open("a", os.O_RDWR); os.write(g, b"NEW"); os.unlink("a"); os.ftruncate(g, 2); os.fchmod(g, 0o600)
                print(os.fstat(g).st_size, oct(os.fstat(g).st_mode & 0o777)); os.close(g)
                print(open("b").read(), oct(os.stat("c").st_mode & 0o777))'
                """
            try Self.expectNative(server, script, modes: Self.bothModes)
            // Modes set through the descriptor and through another name keep their order.
            try Self.expectNative(server, """
                cd $C/d && python3 -c '
                import os
                g = os.open("a", os.O_RDWR); os.unlink("a"); os.fchmod(g, 0o600); os.chmod("b", 0o751); os.close(g)
                print(oct(os.stat("c").st_mode & 0o777))
                g = os.open("b", os.O_RDWR); os.unlink("b"); os.chmod("c", 0o700); os.fchmod(g, 0o640); os.close(g)
                print(oct(os.stat("c").st_mode & 0o777))'
                """, modes: Self.bothModes)
            // (A streamed descriptor whose name went takes no times: Chirp sets them by name only.)
            try Self.expectNative(server, """
                cd $C/d && python3 -c '
                import os
                g = os.open("a", os.O_RDWR); os.unlink("a"); os.fchmod(g, 0o640); os.chmod("c", 0o644); os.utime(g); os.close(g)
                print(oct(os.stat("b").st_mode & 0o777))'
                """, modes: [["--attr-timeout", "0"], ["--attr-timeout", "60"]])
        }
    }

    /// A chown or a utime to the values a file has, or `touch -r` of a file
    /// onto itself, is no chmod: the copy's own mode (the server's with the
    /// owner's read and write added) does not go to the server.
    @Test func aChownOrUtimeIsNoChmod() throws {
        try withChirpServer(.bundled) { server in
            let script = """
                cd $C/d && chmod 444 a && touch -r a a && python3 -c '
                import os
                s = os.stat("b"); g = os.open("b", os.O_RDWR); os.fchown(g, os.getuid(), os.getgid())
                os.utime(g, ns=(s.st_atime_ns, s.st_mtime_ns)); os.close(g)
                g = os.open("c", os.O_RDWR); os.unlink("c"); os.fchown(g, os.getuid(), os.getgid()); os.close(g)
                print(oct(os.stat("a").st_mode & 0o777))'
                """
            try Self.expectNative(server, script, modes: [["--attr-timeout", "0"], ["--attr-timeout", "60"]])
        }
    }

    /// A file held since its name went outlives a quiet spell: a server
    /// closes a connection idle for a while, and a file with no name could
    /// not be opened again on a new one, so the agent keeps the connection
    /// busy (see also the streamed case below). Two
    /// descriptors of one copy closed at once (inotify merges their events)
    /// send it back at once, as one does.
    @Test func aHeldFileOutlivesAQuietSpell() throws {
        let server = try BundledChirpServer(["--idle-timeout", "12"])
        defer { server.finish() }
        do {
            Self.linkedFiles(server)
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let (result, _) = try CacheTests.run(server, """
                cd $C/d && exec 3<>a && rm a && echo XX >&3 && exec 4<>b && echo YY >&4 && exec 3>&- 4>&- && cat c
                python3 -c '
                import os, time
                fd = os.open("b", os.O_RDWR); os.unlink("b"); time.sleep(14); os.write(fd, b"new"); os.close(fd)'
                cat c
                """, cache: cache)
            #expect(result.status == 0 && result.stdout == "YY\n\nnew\n" && result.stderr.isEmpty, "\(result)")
            #expect(localContents(server.local("/d/c")) == "new\n")
        }
    }

    /// A descriptor made real (dup2'ed into the native range) after its
    /// file's name went writes on into the file too, through the file's own
    /// server descriptor: appends, and a file opened to read and write.
    @Test func aCopyMadeRealAfterTheNameWentGoesBackToo() throws {
        try withChirpServer { server in
            let script = """
                cd $C/d && echo x > x && python3 -c '
                import os, sys
                fd = os.open("a", os.O_WRONLY | os.O_APPEND)
                os.write(fd, b"one\\n"); os.unlink("a"); os.write(fd, b"two\\n")
                os.dup2(fd, 1); os.write(1, b"three\\n"); os.close(1); os.close(fd)
                fd = os.open("c", os.O_RDWR)
                os.write(fd, b"ONE\\n"); os.unlink("c"); os.dup2(fd, 5); os.close(fd)
                os.lseek(5, 0, 2); os.write(5, b"TWO\\n"); os.close(5)
                sys.stderr.write(open("b").read())
                fd = os.open("x", os.O_RDWR); os.unlink("x"); os.dup2(fd, 6); os.write(6, b"gone"); os.close(6); os.close(fd)
                sys.stderr.write(str(os.listdir(".")) + "\\n")' 2>&1
                cat b
                """
            try Self.expectNative(server, script, modes: Self.bothModes)
        }
    }

    /// A handle opened to append appends whatever F_SETFL says since (and one
    /// opened without O_APPEND does not append): a copy made real after the
    /// name went whose handle cannot take it back as it is drops its writes
    /// and says so, never writing them over the start or the end of the file.
    @Test func aCopyWhoseHandleCannotTakeItBackIsDroppedNotMisplaced() throws {
        try withChirpServer { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            for (flags, set) in [("os.O_WRONLY", "os.O_APPEND"), ("os.O_RDWR | os.O_APPEND", "0")] {
                Self.linkedFiles(server, "0123456789\n")
                let (result, _) = try CacheTests.run(server, """
                    cd $C/d && python3 -c '
                    import os, fcntl
                    fd = os.open("a", \(flags)); fcntl.fcntl(fd, fcntl.F_SETFL, \(set)); os.unlink("a")
                    os.dup2(fd, 7); os.close(fd); os.lseek(7, 0, 0); os.write(7, b"xy"); os.close(7)'
                    """, cache: cache, options: ["--no-cache"])
                #expect(result.status == 0 && result.stderr.contains("dropped"), "\(result)")
                #expect(localContents(server.local("/d/b")) == "0123456789\n", "\(flags)")
            }
        }
    }

    /// The same for a streamed descriptor (opened only to write) whose name
    /// went, with nothing held to keep the connection busy.
    @Test func aStreamedDescriptorWhoseNameWentOutlivesAQuietSpell() throws {
        let server = try BundledChirpServer(["--idle-timeout", "12"])
        defer { server.finish() }
        Self.linkedFiles(server, "xyz\n")
        let cache = Paths.temporaryDirectory("cache")
        defer { Paths.remove(cache) }
        let (result, _) = try CacheTests.run(server, """
            cd $C/d && python3 -c '
            import os, time
            g = os.open("a", os.O_WRONLY); os.unlink("a"); time.sleep(14); os.write(g, b"Q"); os.close(g)'
            cat b
            """, cache: cache)
        #expect(result.status == 0 && result.stdout == "Qyz\n" && result.stderr.isEmpty, "\(result)")
    }

    @Test func aSecondNameTakesTheCopyWithoutAFetch() throws {
        try withChirpServer { server in
            Self.linkedFiles(server)
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let (first, ops1) = try CacheTests.run(server, "cat $C/d/a $C/d/b", cache: cache)
            #expect(first.stdout == "old\nold\n" && ops1["getfile"] == 1, "\(first) \(ops1)")
            let (second, ops2) = try CacheTests.run(server, "cat $C/d/c", cache: cache, options: ["--attr-timeout", "0"])
            #expect(second.stdout == "old\n" && ops2["getfile"] == nil, "\(second) \(ops2)")
            // Changed at the server, in place: every name shows the new contents, fetched once.
            Self.rewrite(server, "/d/b", "changed at the server\n")
            let (third, ops3) = try CacheTests.run(server, "cat $C/d/c $C/d/a $C/d/b", cache: cache,
                                                   options: ["--attr-timeout", "0"])
            #expect(third.stdout == String(repeating: "changed at the server\n", count: 3) && ops3["getfile"] == 1,
                    "\(third) \(ops3)")
            // Names read before a write through another, in the same run: they take what was written.
            let (fifth, ops5) = try CacheTests.run(server, "cat $C/d/b $C/d/c >/dev/null; exec 3<>$C/d/a; echo new >&3; exec 3>&-; cat $C/d/b; cat $C/d/c",
                                                   cache: cache, options: ["--attr-timeout", "0"])
            #expect(fifth.stdout == "new\nged at the server\nnew\nged at the server\n" && ops5["getfile"] == nil,
                    "\(fifth) \(ops5)")
            // Written through one name (streamed; through the cached copy): the others take what was written.
            for (mode, text, after) in [("w", "streamed\\n", "streamed\n"), ("r+", "COPY", "COPYamed\n")] {
                let write = "python3 -c 'import sys; open(sys.argv[1], \"\(mode)\").write(\"\(text)\")' $C/d/a"
                let (fourth, ops4) = try CacheTests.run(server, write + "; cat $C/d/b $C/d/c", cache: cache,
                                                        options: ["--attr-timeout", "0"])
                #expect((try? String(contentsOfFile: server.local("/d/a"), encoding: .utf8)) == after)
                #expect(fourth.stdout == after + after && ops4["getfile"] == nil, "\(write): \(fourth) \(ops4)")
            }
        }
    }

    /// Removing or renaming one name leaves the others the file, and a name
    /// given to another file leaves its old links the old one.
    @Test func namesComeAndGoAsLocally() throws {
        try withChirpServer { server in
            let script = """
                cat $C/d/a >/dev/null; rm $C/d/a; cat $C/d/b; mv $C/d/b $C/d/m; cat $C/d/m
                echo other > $C/d/n; mv $C/d/n $C/d/c; cat $C/d/m $C/d/c; stat -c %h $C/d/m
                """
            try Self.expectNative(server, script, modes: Self.bothModes)
        }
    }

    /// A copy being written is its name's own until it is back: opening,
    /// writing or running the file under another name meanwhile neither
    /// fetches over it nor splits the writes between two copies.
    @Test func aFileWrittenUnderOneNameIsOneFileUnderTheOthers() throws {
        try withChirpServer { server in
            let cacheModes = [["--attr-timeout", "0"], ["--attr-timeout", "60"]]
            try Self.expectNative(server, """
                exec 3<>$C/d/b; printf XY >&3; exec 4<>$C/d/a; read x <&4; printf ZZ >&4; exec 4>&-; exec 3>&-
                cat $C/d/c; chmod +x $C/d/b; exec 3<>$C/d/b; $C/d/a 2>/dev/null; echo $?; exec 3>&-
                exec 3<>$C/d/a; echo AAAA >&3; echo whole > $C/d/b; cat $C/d/a; echo more >> $C/d/c; exec 3>&-; cat $C/d/a
                exec 3<>$C/d/a; echo BB >&3; python3 -c '
                import os, sys
                s, f = os.stat(sys.argv[1]), os.fstat(os.open(sys.argv[1], os.O_RDONLY))
                print((s.st_dev, s.st_ino, s.st_size) == (f.st_dev, f.st_ino, f.st_size))' $C/d/c
                cp $C/d/c $T/out && cat $T/out; exec 3>&-
                """, modes: cacheModes, contents: "0123456789\nabcdefghij\n")
            // The first name cached when it had no other: linked on the server later.
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            server.write("/d/a", "0123456789\nabcdefghij\n")
            unlink(server.local("/d/b"))
            let (cached, _) = try CacheTests.run(server, "cat $C/d/a >/dev/null", cache: cache)
            #expect(cached.status == 0)
            #expect(link(server.local("/d/a"), server.local("/d/b")) == 0)
            let (result, _) = try CacheTests.run(server, """
                exec 3<>$C/d/b; printf XY >&3; exec 4<>$C/d/a; read x <&4; printf ZZ >&4; exec 4>&-; exec 3>&-; cat $C/d/a
                """, cache: cache, options: ["--attr-timeout", "0"])
            #expect(result.stdout == "XY23456789\nZZcdefghij\n" && localContents(server.local("/d/a")) == result.stdout,
                    "\(result)")
        }
    }

    /// A write-back refused through one name keeps its data apart: the other
    /// names still show the server's file, and a fetch of theirs leaves the
    /// kept data alone.
    @Test func aRefusedWriteBackIsNotTheOtherNamesFile() throws {
        try withChirpServer { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            server.makeDirectory("/locked")
            server.write("/locked/.__acl", ChirpServer.defaultACL)
            server.write("/locked/a", "server\n")
            #expect(link(server.local("/locked/a"), server.local("/locked/b")) == 0)
            let c = "/chirp/127.0.0.1:\(server.port)"
            let (first, _) = try CacheTests.run(server, "cat $C/locked/a $C/locked/b", cache: cache)
            #expect(first.stdout == "server\nserver\n")
            let result = WriteBackFailureTests.write([c + "/locked/b"], cache: cache) {
                server.write("/locked/.__acl", "unix:* rl\naddress:127.0.0.1 rl\nhostname:* rl\n")
            }
            #expect(result.stdout == "EACCES\n", "\(result)")
            let (after, _) = try CacheTests.run(server, "cat $C/locked/a", cache: cache, options: ["--attr-timeout", "0"])
            #expect(after.stdout == "server\n", "\(after)")
            HardLinkTests.rewrite(server, "/locked/a", "changed\n")
            let (changed, _) = try CacheTests.run(server, "cat $C/locked/b", cache: cache, options: ["--attr-timeout", "0"])
            #expect(changed.stdout == "changed\n", "\(changed)")
            #expect(WriteBackFailureTests.unsent(cache) == [c + "/locked/b\n"])
        }
    }

    /// A copy just opened to be written, and stat'ed, is not the shared copy
    /// another agent fetches into for another name.
    @Test func anotherAgentsFetchLeavesACopyBeingWrittenAlone() throws {
        try withChirpServer { server in
            Self.linkedFiles(server)
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let c = "/chirp/127.0.0.1:\(server.port)"
            let ready = cache + "/ready", go = cache + "/go"
            let writer = """
                import os, sys, time
                fd = os.open(sys.argv[1], os.O_RDWR | os.O_TRUNC); os.stat(sys.argv[1]); os.write(fd, b"MINE\\n")
                open(sys.argv[2], "w").close()
                while not os.path.exists(sys.argv[3]): time.sleep(0.01)
                os.close(fd)
                """
            nonisolated(unsafe) var reader: CommandResult?
            let helper = Thread {
                let deadline = Date().addingTimeInterval(60)
                while !FileManager.default.fileExists(atPath: ready) && Date() < deadline { usleep(10_000) }
                reader = Command.run([Paths.parrot, "run", "-t", cache, "--", "cat", c + "/d/b"])
                FileManager.default.createFile(atPath: go, contents: nil)
            }
            helper.start()
            let result = Command.run([Paths.parrot, "run", "-t", cache, "--", "python3", "-c", writer, c + "/d/a", ready, go],
                                     timeout: 90)
            #expect(result.status == 0, "\(result)")
            #expect(reader?.stdout == "old\n", "\(String(describing: reader))")
            #expect(localContents(server.local("/d/b")) == "MINE\n")
        }
    }

    /// A linked program runs from the cache, its copy with the server's mode.
    @Test func linkedProgramsRunWithTheirMode() throws {
        try withChirpServer { server in
            server.makeDirectory("/d")
            server.write("/d/e1", [UInt8](FileManager.default.contents(atPath: "/bin/echo") ?? Data()))
            #expect(chmod(server.local("/d/e1"), 0o755) == 0 && link(server.local("/d/e1"), server.local("/d/e2")) == 0)
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let (result, _) = try CacheTests.run(server, """
                $C/d/e2 hi; python3 -c '
                import os, sys
                print(os.stat(sys.argv[1]).st_mode == os.fstat(os.open(sys.argv[1], os.O_RDONLY)).st_mode)' $C/d/e1
                """, cache: cache)
            #expect(result.stdout == "hi\nTrue\n", "\(result)")
        }
    }

    /// A linked file out of date under every name is evicted like any entry.
    @Test func anOutOfDateLinkedFileIsEvicted() throws {
        try withChirpServer { server in
            server.makeDirectory("/d")
            server.write("/d/big1", [UInt8](repeating: 7, count: 1_000_000))
            #expect(link(server.local("/d/big1"), server.local("/d/big2")) == 0)
            for name in ["o1", "o2", "o3"] { server.write("/d/" + name, [UInt8](repeating: 1, count: 300_000)) }
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let (first, _) = try CacheTests.run(server, "cat $C/d/big1 $C/d/big2 >/dev/null; chmod 644 $C/d/big1", cache: cache)
            #expect(first.status == 0, "\(first)")
            let (second, _) = try CacheTests.run(server, "cat $C/d/o1 $C/d/o2 $C/d/o3 >/dev/null", cache: cache,
                                                 options: ["--cache-size", "700K"])
            #expect(second.status == 0, "\(second)")
            let directory = cache + "/parrot-copies/cache"
            let sizes = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".data") }
                .map { localContents(directory + "/" + $0).utf8.count }
            #expect(!sizes.contains(1_000_000), "\(sizes)")
        }
    }
}
