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
    static func expectNative(_ server: any ChirpTestServer, _ script: String, modes: [[String]],
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
        let scratch = Paths.temporaryDirectory("links")
        defer { Paths.remove(scratch) }
        linkedFiles(server)
        let native = Command.run(["/bin/sh", "-c", "C=\(server.root); T=\(scratch); " + script])
        #expect(native.status == 0 && !native.stdout.isEmpty, "\(native)", sourceLocation: sourceLocation)
        let cache = Paths.temporaryDirectory("cache")
        defer { Paths.remove(cache) }
        for options in modes {
            linkedFiles(server)
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
}
