import Foundation
import Testing

/// The whole-file cache: what the server sees, validation, session mode,
/// eviction, agents sharing a cache, remote programs and mmap.
@Suite struct CacheTests {
    /// Runs `script` under the agent with its cache in `cacheDirectory`; returns
    /// the result and the server's operation counts from the job report.
    /// Runs `script` with kept answers (--attr-timeout 60), cached and
    /// streamed, each after `prepare`; it must succeed and print `expected`.
    static func inBothModes(_ server: ChirpServer, _ script: String, expected: String,
                            prepare: () -> Void) throws {
        let cache = Paths.temporaryDirectory("cache")
        defer { Paths.remove(cache) }
        for options in [["--attr-timeout", "60"], ["--attr-timeout", "60", "--no-cache"]] {
            prepare()
            let (result, _) = try run(server, script, cache: cache, options: options)
            #expect(result.status == 0 && result.stdout == expected, "\(options) \(result)")
        }
    }

    /// `path` written with `contents` anew, and `link` made a hard link of it.
    static func hardLinked(_ server: ChirpServer, _ path: String, _ contents: String, at link: String) {
        server.write(path, contents)
        unlink(server.local(link))
        #expect(Glibc.link(server.local(path), server.local(link)) == 0)
    }

    static func run(_ server: any ChirpTestServer, _ script: String, cache: String, options: [String] = []) throws
        -> (CommandResult, [String: Int]) {
        let stats = cache + "/stats-\(UUID().uuidString.prefix(6)).json"
        let c = "/chirp/127.0.0.1:\(server.port)"
        let result = Command.run([Paths.parrot, "run", "-t", cache, "--stats-file", stats] + options
                                 + ["--", "/bin/sh", "-c", "C=\(c); " + script])
        let data = FileManager.default.contents(atPath: stats) ?? Data()
        let report = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        let services = report["services"] as? [String: [String: Any]] ?? [:]
        return (result, services["chirp/127.0.0.1:\(server.port)"]?["operations"] as? [String: Int] ?? [:])
    }

    @Test func secondReadIsAHitAndChangesAreSeen() throws {
        try withChirpServer { server in
            server.write("/data.txt", "first version\n")
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let (first, ops1) = try Self.run(server, "cat $C/data.txt", cache: cache)
            #expect(first.stdout == "first version\n" && ops1["getfile"] == 1, "\(first) \(ops1)")
            let (second, ops2) = try Self.run(server, "cat $C/data.txt; cat $C/data.txt", cache: cache)
            // One stat: the second open within a second takes the kept answer (--attr-timeout).
            #expect(second.stdout == "first version\nfirst version\n" && ops2["getfile"] == nil && ops2["stat"] == 1,
                    "\(second) \(ops2)")
            let (third0, ops3a) = try Self.run(server, "cat $C/data.txt; cat $C/data.txt", cache: cache, options: ["--attr-timeout", "0"])
            #expect(third0.status == 0 && ops3a["stat"] == 2, "\(ops3a)")
            // A copy made only to be read (stdin from a streamed file) sends nothing back.
            let (streamed, ops3b) = try Self.run(server, "md5sum < $C/data.txt", cache: cache, options: ["--no-cache"])
            #expect(streamed.status == 0 && ops3b["putfile"] == nil && ops3b["chmod"] == nil && ops3b["utimes"] == nil,
                    "\(streamed) \(ops3b)")
            // Changed behind the agent's back (another size): fetched again.
            server.write("/data.txt", "second, longer version\n")
            let (third, ops3) = try Self.run(server, "cat $C/data.txt", cache: cache)
            #expect(third.stdout == "second, longer version\n" && ops3["getfile"] == 1, "\(third) \(ops3)")
            // Changed through the agent, within the same second and size: dropped from the cache.
            let (fourth, _) = try Self.run(server, "cat $C/data.txt >/dev/null; echo 'SECOND, LONGER VERSION' > $C/data.txt; cat $C/data.txt", cache: cache)
            #expect(fourth.stdout == "SECOND, LONGER VERSION\n", "\(fourth)")
        }
    }

    /// Kept answers never hide what the agent itself changed, however long
    /// they are kept: each change forgets the names it touches (and what is
    /// under a directory renamed); a change elsewhere keeps the rest.
    @Test func ownChangesForgetWhatTheyTouch() throws {
        try withChirpServer { server in
            server.makeDirectory("/w")
            server.write("/w/keep.txt", "k\n")
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let script = """
                test -e $C/w/new || echo missing; echo x > $C/w/new; test -e $C/w/new && echo present
                mkdir $C/w/d; echo f > $C/w/d/f; test -e $C/w/d/f && echo made
                mv $C/w/d $C/w/e; test -e $C/w/d/f || echo gone; test -e $C/w/e/f && echo moved
                readlink $C/w/l || echo nolink; ln -s e/f $C/w/l; readlink $C/w/l; cat $C/w/l
                rm $C/w/l; readlink $C/w/l || echo unlinked
                stat -c %s $C/w/new; echo longer > $C/w/new; stat -c %s $C/w/new
                rm -r $C/w/e; test -e $C/w/e/f || echo removed
                """
            let expected = "missing\npresent\nmade\ngone\nmoved\nnolink\ne/f\nf\nunlinked\n2\n7\nremoved\n"
            let (result, _) = try Self.run(server, script, cache: cache, options: ["--attr-timeout", "600"])
            #expect(result.stdout == expected, "\(result)")
            // keep.txt's status asked again after a write elsewhere costs no request.
            func statusRequests(_ script: String) throws -> Int {
                let (result, ops) = try Self.run(server, script, cache: cache, options: ["--attr-timeout", "600"])
                #expect(result.status == 0, "\(result)")
                return ops["stat", default: 0] + ops["lstat", default: 0]
            }
            let once = try statusRequests("stat -c %s $C/w/keep.txt; echo y > $C/w/other1")
            let twice = try statusRequests("stat -c %s $C/w/keep.txt; echo y > $C/w/other2; stat -c %s $C/w/keep.txt")
            #expect(once == twice && once > 0, "\(once) \(twice)")
        }
    }

    /// A change made through another name of a file (a symbolic or a hard
    /// link) forgets what was kept under every name of that file: reads and
    /// sizes through the first name show it at once, cached or streamed.
    @Test func aChangeThroughAnotherNameIsSeenAtOnce() throws {
        try withChirpServer { server in
            server.makeDirectory("/d")
            server.write("/d/t", "one\n")
            server.symlink("t", at: "/d/soft")
            let script = """
                cat $C/d/t; stat -c %s $C/d/t; echo two, through the link > $C/d/soft; cat $C/d/t; stat -c %s $C/d/t
                stat -c %s $C/d/hard; echo three > $C/d/t; cat $C/d/hard; stat -c %s $C/d/hard; stat -L -c %s $C/d/soft
                """
            try Self.inBothModes(server, script, expected: "one\n4\ntwo, through the link\n22\n22\nthree\n6\n6\n") {
                Self.hardLinked(server, "/d/t", "one\n", at: "/d/hard")
            }
        }
    }

    /// A copy opened to be written back asks the server rather than trust a
    /// kept answer, or a change made through another name that was not
    /// forgotten would be lost when the copy goes back.
    @Test func aCopyWrittenBackStartsFromTheServersFile() throws {
        try withChirpServer { server in
            server.makeDirectory("/d")
            server.write("/d/t", "")
            server.symlink("t", at: "/d/link")
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let (result, _) = try Self.run(server, "cat $C/d/t; echo data > $C/d/link; echo more >> $C/d/t; cat $C/d/t",
                                           cache: cache, options: ["--attr-timeout", "60"])
            #expect(result.status == 0 && localContents(server.local("/d/t")) == "data\nmore\n", "\(result)")
        }
    }

    /// A file renamed while open for writing: its writes forget what was
    /// kept about its new name.
    @Test func writesAfterARenameForgetTheNewName() throws {
        try withChirpServer { server in
            server.makeDirectory("/d")
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let script = """
                python3 -c '
                import os, sys
                d = sys.argv[1]
                fd = os.open(d + "/a", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.rename(d + "/a", d + "/b"); os.mkdir(d + "/e"); os.rename(d + "/b", d + "/e/b")
                before = os.stat(d + "/e/b").st_size
                os.write(fd, b"xyz"); os.fsync(fd)
                print(before, os.stat(d + "/e/b").st_size)
                os.close(fd)
                print(os.stat(d + "/e/b").st_size)' $C/d
                """
            for options in [["--attr-timeout", "60"], ["--attr-timeout", "60", "--no-cache"]] {
                let (result, _) = try Self.run(server, script + "; rm -r $C/d/e", cache: cache, options: options)
                #expect(result.status == 0 && result.stdout == "0 3\n3\n", "\(options) \(result)")
            }
        }
    }

    /// A quick change through another name of a file keeps its size and its
    /// whole second: the copy cached under the first name must still go, or
    /// an append through that name writes back the old contents.
    @Test func aSameSizeChangeThroughALinkIsNotLost() throws {
        try withChirpServer { server in
            server.makeDirectory("/real")
            server.symlink("real/t", at: "/lt")
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let script = "cat $C/real/t > /dev/null; printf 'two\\n' > $C/lt; cat $C/real/t; echo more >> $C/real/t"
            for options in [[], ["--attr-timeout", "0"]] {
                server.write("/real/t", "one\n")
                let (result, _) = try Self.run(server, script, cache: cache, options: options)
                #expect(result.status == 0 && result.stdout == "two\n", "\(options) \(result)")
                #expect(localContents(server.local("/real/t")) == "two\nmore\n", "\(options)")
            }
        }
    }

    /// A file renamed while open for writing is written under its new name,
    /// whichever way it was open (a descriptor made real, a cached copy, a
    /// streamed one), and a new file under the old name keeps its own data.
    @Test func writesFollowAFileRenamedWhileOpen() throws {
        try withChirpServer { server in
            server.makeDirectory("/d")
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let shell = "exec 3> $C/d/a; mv $C/d/a $C/d/b; echo BB > $C/d/a; echo AAAA >&3; exec 3>&-; cat $C/d/a $C/d/b"
            let python = """
                python3 -c '
                import os, sys
                d = sys.argv[1] + "/d"
                f = os.open(d + "/a", os.O_RDWR | os.O_CREAT, 0o644)
                os.rename(d + "/a", d + "/b")
                g = os.open(d + "/a", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644); os.write(g, b"BB\\n"); os.close(g)
                os.write(f, b"AAAA\\n"); os.close(f)
                print(open(d + "/a").read() + open(d + "/b").read(), end="")' $C
                """
            for options in [[], ["--no-cache"]] {
                for script in [shell, python] {
                    unlink(server.local("/d/a"))
                    unlink(server.local("/d/b"))
                    let (result, _) = try Self.run(server, script, cache: cache, options: options)
                    #expect(result.status == 0 && result.stdout == "BB\nAAAA\n", "\(options) \(result)")
                    #expect(localContents(server.local("/d/a")) == "BB\n" && localContents(server.local("/d/b")) == "AAAA\n",
                            "\(options) \(script)")
                }
            }
        }
    }

    /// A truncate or chmod by a link nothing was kept about: the server says
    /// which file it changed, and the file's other names forget their answers
    /// and cached copies.
    @Test func changesByALinkNeverAskedAboutAreSeen() throws {
        try withChirpServer { server in
            server.makeDirectory("/real")
            server.symlink("real/t", at: "/lt")
            let script = """
                cat $C/real/t; stat -c %a $C/real/t
                python3 -c 'import os, sys; os.truncate(sys.argv[1], 2); os.chmod(sys.argv[1], 0o600)' $C/lt
                cat $C/real/t; echo; stat -c '%a %s' $C/real/t
                """
            try Self.inBothModes(server, script, expected: "hello\n644\nhe\n600 2\n") {
                server.write("/real/t", "hello\n")
                chmod(server.local("/real/t"), 0o644)
            }
        }
    }

    /// An atomic replace (write a new file, rename it over the old) through a
    /// symbolic link to the directory, keeping the size and the second: the
    /// new file is a new inode, so neither a kept answer nor a cached copy of
    /// the real name may stand for it.
    @Test func anAtomicReplaceThroughALinkIsSeen() throws {
        try withChirpServer { server in
            server.makeDirectory("/real")
            server.symlink("real", at: "/alias")
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let script = """
                cat $C/real/t
                python3 -c 'import os, sys; open(sys.argv[1] + ".new", "w").write("two\\n"); os.replace(sys.argv[1] + ".new", sys.argv[1])' $C/alias/t
                cat $C/real/t
                """
            for options in [["--attr-timeout", "60"], ["--attr-timeout", "0"]] {
                server.write("/real/t", "one\n")
                let (result, _) = try Self.run(server, script, cache: cache, options: options)
                #expect(result.status == 0 && result.stdout == "one\ntwo\n", "\(options) \(result)")
            }
        }
    }

    /// A listing carries every entry's lstat (getlongdir), which answers the
    /// stats that follow it: `ls -l`, `find`, `du` cost a request per
    /// directory, not per name, and still see the agent's own changes.
    @Test func aListingAnswersTheStatsThatFollowIt() throws {
        try withChirpServer { server in
            server.makeDirectory("/many")
            for index in 0..<60 { server.write("/many/f\(index)", String(repeating: "x", count: index)) }
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            // f3 listed with 3 bytes, rewritten with 5 through the agent, then put back.
            let script = "ls -ln --time-style=+%s $C/many; echo more > $C/many/f3; stat -c %s $C/many/f3; printf xxx > $C/many/f3"
            /// The stat and lstat requests of a run whose listing matched ls's.
            func statusRequests(_ options: [String]) throws -> Int {
                let native = Command.run(["ls", "-ln", "--time-style=+%s", server.local("/many")])
                let (listed, ops) = try Self.run(server, script, cache: cache, options: options)
                #expect(listed.status == 0 && listed.stdout == native.stdout + "5\n", "\(options) \(listed)")
                return ops["stat", default: 0] + ops["lstat", default: 0]
            }
            let kept = try statusRequests([])
            #expect(kept <= 6, "\(kept) stat requests")
            let each = try statusRequests(["--attr-timeout", "0"])
            #expect(each >= 60, "\(each) stat requests")
        }
    }

    /// What a listing kept is forgotten under every name of a file changed
    /// through another: a hard link, a file reached through a symbolic link
    /// to its directory.
    @Test func listedAnswersForgetChangesThroughOtherNames() throws {
        try withChirpServer { server in
            server.makeDirectory("/real")
            server.write("/real/t", "one\n")
            server.symlink("real", at: "/alias")
            let script = """
                ls -l $C/real > /dev/null; ls -l $C/alias/ > /dev/null
                echo second > $C/real/hard; stat -c %s $C/real/t; cat $C/alias/t
                echo the third > $C/alias/t; stat -c %s $C/real/t $C/real/hard $C/alias/t
                """
            try Self.inBothModes(server, script, expected: "7\nsecond\n10\n10\n10\n") {
                Self.hardLinked(server, "/real/t", "one\n", at: "/real/hard")
            }
        }
    }

    /// Names a listing kept are forgotten when their file is removed or
    /// renamed through a symbolic link to the directory.
    @Test func listedNamesGoWhenRemovedThroughALink() throws {
        try withChirpServer { server in
            server.makeDirectory("/real")
            server.symlink("real", at: "/alias")
            let script = """
                ls -l $C/real > /dev/null
                rm $C/alias/f; test -e $C/real/f || echo f gone
                mv $C/alias/g $C/alias/h; test -e $C/real/g || echo g gone; cat $C/real/h
                """
            try Self.inBothModes(server, script, expected: "f gone\ng gone\ng\n") {
                server.write("/real/f", "f\n")
                server.write("/real/g", "g\n")
                unlink(server.local("/real/h"))
            }
        }
    }

    /// Names made or removed through a symbolic link to a directory show
    /// under its real name at once, and the other way round, once the link
    /// was read (`ls -l` does) or followed: kept answers, found or not, for
    /// the other name are forgotten.
    @Test func namesMadeThroughALinkShowUnderTheRealName() throws {
        try withChirpServer { server in
            server.makeDirectory("/sl/real")
            server.symlink("real", at: "/sl/alias")
            let script = """
                ls -l $C/sl > /dev/null; test -e $C/sl/real/new || echo missing
                touch $C/sl/alias/new; test -e $C/sl/real/new && echo present
                test -e $C/sl/alias/n2 || echo missing2; echo x > $C/sl/real/n2; test -e $C/sl/alias/n2 && echo present2
                rm $C/sl/real/n2; test -e $C/sl/alias/n2 || echo gone2
                """
            try Self.inBothModes(server, script, expected: "missing\npresent\nmissing2\npresent2\ngone2\n") {
                for name in ["new", "n2"] { unlink(server.local("/sl/real/" + name)) }
            }
        }
    }

    /// A copy being written back follows its file through more than one
    /// rename, and the new name's cached copy does not outlive the write-back.
    @Test func aCopyWrittenBackFollowsRenames() throws {
        try withChirpServer { server in
            server.makeDirectory("/d")
            let script = """
                cd $C/d; exec 3>>a; mv a b; mv b c; echo added >&3; exec 3>&-; ls; cat c
                exec 4<>e; mv e f; cat f; printf TWO >&4; exec 4>&-; cat f
                """
            try Self.inBothModes(server, script, expected: "c\ne\norig\nadded\none\nTWO\n") {
                for name in ["a", "b", "c", "e", "f"] { unlink(server.local("/d/" + name)) }
                server.write("/d/a", "orig\n")
                server.write("/d/e", "one\n")
            }
        }
    }

    @Test func sessionModeAsksTheServerOnce() throws {
        try withChirpServer { server in
            server.write("/data.txt", "x\n")
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let (result, ops) = try Self.run(server, "for i in 1 2 3 4 5; do cat $C/data.txt; done", cache: cache, options: ["-S"])
            #expect(result.stdout == String(repeating: "x\n", count: 5) && ops["stat"] == 1 && ops["getfile"] == 1,
                    "\(result) \(ops)")
        }
    }

    @Test func identityOfCachedFilesIsConsistent() throws {
        try withChirpServer { server in
            server.write("/f", "data\n")
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let script = """
                python3 -c '
                import os, sys
                p = sys.argv[1]
                s = os.stat(p); fd = os.open(p, os.O_RDONLY); f = os.fstat(fd)
                print((s.st_dev, s.st_ino, s.st_size, int(s.st_mtime)) == (f.st_dev, f.st_ino, f.st_size, int(f.st_mtime)))
                print(os.readlink("/proc/self/fd/%d" % fd) == p, fd < 1 << 16)' $C/f
                """
            let (result, _) = try Self.run(server, script, cache: cache)
            #expect(result.stdout == "True\nTrue True\n", "\(result)")
        }
    }

    @Test func evictsLeastRecentlyUsedBeyondTheLimit() throws {
        try withChirpServer { server in
            for name in ["a", "b", "c"] { server.write("/\(name)", [UInt8](repeating: 1, count: 300_000)) }
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let (result, _) = try Self.run(server, "cat $C/a $C/b $C/c | wc -c", cache: cache, options: ["--cache-size", "700K"])
            #expect(result.stdout.trimmingCharacters(in: .whitespaces) == "900000\n", "\(result)")
            let files = (try? FileManager.default.contentsOfDirectory(atPath: cache + "/parrot-copies/cache")) ?? []
            let kept = files.filter { $0.hasSuffix(".meta") }.count
            #expect(kept == 2, "\(files)")
            let (again, ops) = try Self.run(server, "cat $C/c | wc -c", cache: cache)
            #expect(again.status == 0 && ops["getfile"] == nil, "\(again) \(ops)")
            // Entries the agent writes (files cp streams to the server) count too.
            let local = cache + "/local"
            FileManager.default.createFile(atPath: local, contents: Data(repeating: 2, count: 300_000))
            let (written, _) = try Self.run(server, "for n in d e f; do cp \(local) $C/$n; done",
                                            cache: cache, options: ["--cache-size", "700K"])
            let after = (try? FileManager.default.contentsOfDirectory(atPath: cache + "/parrot-copies/cache")) ?? []
            #expect(written.status == 0 && after.filter { $0.hasSuffix(".meta") }.count == 2, "\(written) \(after)")
            // A copy being written is never evicted, however old: its data goes back whole.
            let (held, _) = try Self.run(server, """
                python3 -c '
                import os, subprocess, sys
                fd = os.open(sys.argv[1] + "/w", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
                os.write(fd, b"w" * 300000)
                for n in "abc": subprocess.run(["cat", sys.argv[1] + "/" + n], stdout=subprocess.DEVNULL, check=True)
                os.write(fd, b"x" * 1000); os.close(fd)' $C
                """, cache: cache, options: ["--cache-size", "700K"])
            #expect(held.status == 0, "\(held)")
            #expect(localContents(server.local("/w")) == String(repeating: "w", count: 300_000) + String(repeating: "x", count: 1000))
        }
    }

    @Test func agentsShareOneCache() throws {
        try withChirpServer { server in
            var bytes = [UInt8](repeating: 0, count: 2 << 20)
            for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 31 &+ 7) }
            server.write("/big", bytes)
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let expected = Command.run(["md5sum", server.local("/big")]).stdout.prefix(32)
            final class Results: @unchecked Sendable {
                var values = [String](repeating: "", count: 6)
                let lock = NSLock()
            }
            let results = Results()
            DispatchQueue.concurrentPerform(iterations: 6) { index in
                let output = (try? Self.run(server, "md5sum < $C/big", cache: cache).0.stdout) ?? "failed"
                results.lock.lock(); results.values[index] = output; results.lock.unlock()
            }
            for output in results.values { #expect(output.prefix(32) == expected, "\(output)") }
        }
    }

    /// Processes appending to one file at once (`>>` in a shell: a local
    /// copy, made real): every line arrives. The agent's own look at a copy
    /// being written once passed for a program's close, and a copy went back
    /// before another program had written into it; a copy made real went back
    /// whole, over the other appenders' lines.
    @Test func concurrentAppendsAllArrive() throws {
        try withChirpServer { server in
            server.makeDirectory("/d")
            let round = "(for i in $(seq 12); do echo w$i >> $C/d/log & done; wait); wc -l < $C/d/log"
            try Self.inBothModes(server, [round, round, round].joined(separator: "; "), expected: "13\n25\n37\n") {
                server.write("/d/log", "start\n")
            }
            // Opened to read and append: one cached copy shared, counted right.
            let shared = "(for i in $(seq 12); do python3 -c 'import sys; open(sys.argv[1], \"a+\").write(\"w\\n\")' $C/d/log & done; wait); wc -l < $C/d/log"
            try Self.inBothModes(server, [shared, shared, shared].joined(separator: "; "), expected: "13\n25\n37\n") {
                server.write("/d/log", "start\n")
            }
        }
    }

    /// A shell's `>>` descriptors (local copies, made real) send what they
    /// got at once: lines keep the order they were written in, across
    /// descriptors and processes; a reader sees them while the descriptor is
    /// open; a truncate is not undone. After an append the offset is the end
    /// of the server's file.
    @Test func appendsKeepTheirOrder() throws {
        try withChirpServer { server in
            server.makeDirectory("/d")
            let script = """
                cd $C/d; (exec >>log 2>&1; echo step 1; echo x >>log; echo step 2; echo sub | tee -a log >/dev/null; echo step 3)
                cat log; exec 3>>log2; echo a >&3; cat log2; exec 3>>log3; echo old >&3; : > log3; echo new >&3; exec 3>&-; cat log3
                python3 -c 'import os; f = os.open("log", os.O_WRONLY | os.O_APPEND); os.write(f, b"p"); print(os.lseek(f, 0, os.SEEK_CUR))'
                (exec >>log4 2>&1; echo a | tee -a /dev/stderr; echo b; ls / > /dev/null; echo c); cat log4
                (exec >>log5; echo short; python3 -c 'import os; os.ftruncate(1, 0); os.write(1, b"a-longer-line\\n")'); cat log5
                (exec >log6; exec 3>>/dev/stdout; echo x; echo y >&3); cat log6
                """
            try Self.inBothModes(server, script, expected: "start\nstep 1\nx\nstep 2\nsub\nstep 3\na\nnew\n34\na\na\nb\nc\n"
                                 + "a-longer-line\nx\ny\n") {
                server.write("/d/log", "start\n")
                for name in ["log2", "log3", "log4", "log5", "log6"] { unlink(server.local("/d/" + name)) }
            }
        }
    }

    /// Jobs, each under its own agent and cache, appending to one remote log
    /// at once (a shell's `>>`, python's "a"): appends are sent as appends,
    /// so no job's lines are written over by another's whole copy.
    @Test func appendsFromSeveralAgentsAllArrive() throws {
        try withChirpServer { server in
            server.makeDirectory("/e")
            server.write("/e/log", "start\n")
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let log = "/chirp/127.0.0.1:\(server.port)/e/log"
            let job = """
                for i in $(seq 15); do echo "s$1-$i" >> \(log); python3 -c 'import sys; open(sys.argv[1], "a").write(sys.argv[2] + "\\n")' \(log) "p$1-$i"; done
                """
            let jobs = (1...3).map { "\(Paths.parrot) run -t \(cache)/\($0) -- sh -c '\(job.replacingOccurrences(of: "'", with: "'\\''"))' job \($0) &" }
            let result = Command.run(["/bin/sh", "-c", jobs.joined(separator: "\n") + "\nwait"])
            #expect(result.status == 0, "\(result)")
            let lines = localContents(server.local("/e/log")).split(separator: "\n")
            #expect(lines.count == 91 && Set(lines).count == 91, "\(lines.count) lines: \(result)")
        }
    }

    /// Writes through a shared mapping raise no inotify event: the copy's
    /// mtime tells, and the data goes back (lost before, while the cached
    /// copy kept it). A touch still sends only the times.
    @Test func writesThroughASharedMappingGoBack() throws {
        try withChirpServer { server in
            server.makeDirectory("/m")
            let script = """
                python3 -c '
                import mmap, os, sys
                p = sys.argv[1] + "/m/f"
                with open(p, "wb") as f: f.write(b"a" * 8192)
                fd = os.open(p, os.O_RDWR); m = mmap.mmap(fd, 8192); m[0:5] = b"HELLO"; m.flush(); m.close(); os.close(fd)
                print(open(p, "rb").read(6))' $C; touch -d 2001-01-01 $C/m/f; stat -c %Y $C/m/f
                """
            // What the server has after each mode, not only what the program reads back.
            let check = "; head -c 6 \(server.local("/m/f"))"
            try Self.inBothModes(server, script + check, expected: "b'HELLOa'\n978307200\nHELLOa") {
                unlink(server.local("/m/f"))
            }
            // Streamed: the file is mapped from a local copy the agent made,
            // while the program's utime goes to the server; the write still goes back.
            let utimed = """
                python3 -c '
                import mmap, os, sys
                fd = os.open(sys.argv[1] + "/m/f", os.O_RDWR); m = mmap.mmap(fd, 8192); m[0:5] = b"WORLD"; m.flush(); m.close()
                os.utime(fd, (0, 0)); os.close(fd)' $C
                """
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let (result, _) = try Self.run(server, utimed, cache: cache, options: ["--no-cache"])
            #expect(result.status == 0 && localContents(server.local("/m/f")).hasPrefix("WORLDa"), "\(result)")
            // A writable mapping refused (the file is open read-only) writes nothing back.
            let refused = """
                python3 -c '
                import mmap, os, sys
                fd = os.open(sys.argv[1] + "/m/f", os.O_RDONLY); m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
                try: mmap.mmap(fd, 0)
                except OSError as e: print(e.errno == 13)
                m.close(); os.close(fd)' $C
                """
            let (readOnly, operations) = try Self.run(server, refused, cache: cache, options: ["--no-cache"])
            #expect(readOnly.stdout == "True\n" && operations["putfile"] == nil, "\(operations) \(readOnly)")
        }
    }

    @Test func remoteProgramsAndMappingsRunFromTheCache() throws {
        try withChirpServer { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            server.write("/tool.sh", "#!/bin/sh\necho \"tool $1\"\n")
            chmod(server.local("/tool.sh"), 0o755)
            server.write("/table", (0..<1000).map { "row \($0)" }.joined(separator: "\n"))
            let (result, ops) = try Self.run(server, """
                $C/tool.sh one && $C/tool.sh two && cp /bin/true $C/true && $C/true && echo ran && \
                python3 -c 'import mmap,sys; f=open(sys.argv[1],"rb"); m=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ); print(m[4:9], m[-7:])' $C/table
                """, cache: cache)
            #expect(result.status == 0 && result.stdout == "tool one\ntool two\nran\nb'0\\nrow' b'row 999'\n", "\(result)")
            #expect((ops["getfile"] ?? 0) <= 3, "\(ops)")  // tool.sh once, true once, table once
        }
    }

    /// A file opened only to be written is streamed (writes sent ahead, no
    /// local copy sent at the close), and its cache entry is written alongside:
    /// reading it back fetches nothing. Anything else (an ftruncate) leaves the
    /// entry to be fetched again, and what is read is the server's file.
    @Test func writeOnlyOpensStreamAndKeepTheirEntry() throws {
        try withChirpServer(privatePort: true) { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let work = Paths.temporaryDirectory("cache-stream")
            defer { Paths.remove(work) }
            let data = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
            FileManager.default.createFile(atPath: work + "/big", contents: Data(data))
            let (copied, ops) = try Self.run(server, "cp \(work)/big $C/big", cache: cache)
            #expect(copied.status == 0 && ops["putfile"] == nil && (ops["write"] ?? 0) >= 1, "\(copied) \(ops)")
            #expect(FileManager.default.contents(atPath: server.local("/big")) == Data(data))
            let (read, readOps) = try Self.run(server, "cmp \(work)/big $C/big && echo same", cache: cache)
            #expect(read.stdout == "same\n" && readOps["getfile"] == nil, "\(read) \(readOps)")
            // ftruncate of a streamed file: the entry is dropped, the read fetches.
            let (cut, cutOps) = try Self.run(server, """
                python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC); os.write(fd, b"abcdef"); os.ftruncate(fd, 3); os.close(fd)' $C/big
                cat $C/big
                """, cache: cache)
            #expect(cut.stdout == "abc" && cutOps["getfile"] == 1, "\(cut) \(cutOps)")

            // Beyond StreamedCopies.largestKept the copy is dropped and
            // emptied as the file grows: streamed all the same, read back by a fetch.
            let large = (0..<(9 << 20) + 5).map { UInt8(truncatingIfNeeded: $0 &* 40503 >> 7) }
            FileManager.default.createFile(atPath: work + "/large", contents: Data(large))
            let (copiedLarge, largeOps) = try Self.run(server, "cp \(work)/large $C/large", cache: cache)
            #expect(copiedLarge.status == 0 && largeOps["putfile"] == nil, "\(copiedLarge) \(largeOps)")
            #expect(FileManager.default.contents(atPath: server.local("/large")) == Data(large))
            #expect(Self.cachedDataBytes(cache) < 8 << 20)
            let (readLarge, readLargeOps) = try Self.run(server, "cmp \(work)/large $C/large && echo same", cache: cache)
            #expect(readLarge.stdout == "same\n" && readLargeOps["getfile"] == 1, "\(readLarge) \(readLargeOps)")
        }
    }

    /// Bytes in the cache's data files.
    static func cachedDataBytes(_ cache: String) -> Int {
        let files = FileManager.default.enumerator(atPath: cache)?.compactMap { $0 as? String } ?? []
        return files.filter { $0.hasSuffix(".data") }.reduce(0) { total, name in
            total + ((try? FileManager.default.attributesOfItem(atPath: cache + "/" + name)[.size] as? Int) ?? 0)
        }
    }

    @Test func writesGoBackAtTheLastCloseAndAFailedWriteBackKeepsTheData() throws {
        try withChirpServer(privatePort: true) { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            server.write("/shared.txt", "old\n")
            // Two descriptors of one open file and a second open: the data goes
            // back once, after the last close.
            let (result, ops) = try Self.run(server, """
                python3 -c '
                import os, sys
                p = sys.argv[1]
                a = os.open(p, os.O_RDWR | os.O_TRUNC); b = os.dup(a); c = os.open(p, os.O_RDONLY)
                os.write(a, b"new "); os.close(a); os.write(b, b"data\\n"); os.close(b)
                print(os.read(c, 100)); os.close(c)' $C/shared.txt; cat $C/shared.txt
                """, cache: cache)
            #expect(result.stdout == "b'new data\\n'\nnew data\n", "\(result)")
            #expect(ops["putfile"] == 1, "\(ops)")
            #expect(localContents(server.local("/shared.txt")) == "new data\n")

            // The server dies before the file is closed: the close cannot send it back.
            let marker = cache + "/written"
            let killer = Thread {
                let deadline = Date().addingTimeInterval(30)
                while !FileManager.default.fileExists(atPath: marker) && Date() < deadline { usleep(10_000) }
                server.crash()
            }
            killer.start()
            let c = "/chirp/127.0.0.1:\(server.port)"
            let lost = Command.run([Paths.parrot, "run", "-t", cache, "-T", "1", "--", "python3", "-c", """
                import os, sys, time
                fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
                os.write(fd, b"precious\\n"); open(sys.argv[2], "w").close(); time.sleep(1); os.close(fd)
                """, c + "/precious.txt", marker], timeout: 60)
            #expect(lost.stderr.contains("cannot write \(c)/precious.txt back"), "\(lost)")
            let kept = (try? FileManager.default.contentsOfDirectory(atPath: cache + "/parrot-copies/cache")) ?? []
            let unsent = kept.filter { $0.contains(".unsent.") }
            #expect(unsent.count == 1, "\(kept)")
            if let name = unsent.first {
                #expect(localContents(cache + "/parrot-copies/cache/" + name) == "precious\n")
            }
        }
    }

    @Test func librariesAndDatabasesOnTheServer() throws {
        try withChirpServer { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            let work = Paths.temporaryDirectory("libs")
            defer { Paths.remove(work) }
            Paths.write("int answer(void) { return 42; }\n", to: work + "/answer.c")
            Paths.write("#include <stdio.h>\nint answer(void);\nint main(void) { printf(\"%d\\n\", answer()); return 0; }\n",
                        to: work + "/main.c")
            let build = Command.shell("""
                cc -shared -fPIC -o libanswer.so answer.c && cc -o main main.c -L. -lanswer && \
                python3 -c 'import sqlite3; c = sqlite3.connect("data.db"); c.execute("create table t(x)"); c.executemany("insert into t values (?)", [(i,) for i in range(500)]); c.commit()'
                """, cwd: work)
            #expect(build.status == 0, "\(build)")
            // The library and the database live only on the server.
            // A path list splits at colons, so the server's lib directory is
            // mounted at a plain name for LD_LIBRARY_PATH.
            let (result, _) = try Self.run(server, """
                mkdir $C/lib && cp \(work)/libanswer.so \(work)/data.db $C/lib/ && rm \(work)/libanswer.so && \
                LD_LIBRARY_PATH=/remote-lib \(work)/main && \
                python3 -c 'import sqlite3, sys; c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True); print(c.execute("select count(*), sum(x) from t").fetchone())' $C/lib/data.db
                """, cache: cache, options: ["-M", "/remote-lib=/chirp/127.0.0.1:\(server.port)/lib"])
            #expect(result.status == 0 && result.stdout == "42\n(500, 124750)\n", "\(result)")
        }
    }
}
