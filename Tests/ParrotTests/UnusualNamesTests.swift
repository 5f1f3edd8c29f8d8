import Foundation
import Testing

/// File names with spaces, percent signs and non-ASCII letters work both
/// ways; names the agent cannot carry give a clear error at once: a line
/// break in a listing (EPROTO, no retries for minutes) and a path that is
/// not UTF-8 (EILSEQ, never a file made under another name).
@Suite struct UnusualNamesTests {
    /// `script` under the agent (its own cache), with C set to the server's directory.
    static func run(_ server: any ChirpTestServer, _ script: String) -> CommandResult {
        let cache = Paths.temporaryDirectory("cache")
        defer { Paths.remove(cache) }
        return Command.run([Paths.parrot, "run", "-t", cache, "-T", "5", "--", "/bin/sh", "-c",
                            "C=/chirp/127.0.0.1:\(server.port); " + script])
    }

    @Test(arguments: ChirpServerKind.allCases) func namesThatWorkAndNamesThatCannot(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            server.makeDirectory("/n")
            for name in ["sp ace", "pct%41", "é"] { server.write("/n/" + name, name + "\n") }
            let script = """
                export LC_ALL=C; ls $C/n; cat "$C/n/sp ace" $C/n/pct%41 $C/n/é
                cp "$C/n/sp ace" "$C/n/copy %20é" && cat "$C/n/copy %20é"
                touch "$C/n/$(printf 'bad\\377')"; echo "touch $?"
                """
            let result = Self.run(server, script)
            #expect(result.stdout == "pct%41\nsp ace\né\nsp ace\npct%41\né\nsp ace\ntouch 1\n", "\(result)")
            #expect(result.stderr.contains("Invalid or incomplete multibyte or wide character"), "\(result)")
            #expect(localContents(server.local("/n/copy %20é")) == "sp ace\n")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: server.local("/n"))) ?? []
            #expect(Set(names.filter { !$0.hasPrefix(".__") }) == ["sp ace", "pct%41", "é", "copy %20é"])
        }
    }

    /// Chirp listings are lines: a name holding a line break cannot be sent.
    /// The bundled server leaves it out; against cctools' server, which
    /// sends it anyway, the listing fails with EPROTO within seconds.
    @Test(arguments: ChirpServerKind.allCases) func aNameWithALineBreak(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            server.makeDirectory("/n")
            server.write("/n/plain", "x\n")
            server.write("/n/two\nlines", "y\n")
            // A name starting with one: the listing seems to end early, the rest waits.
            server.makeDirectory("/m")
            server.write("/m/\nlead", "z\n")
            server.write("/m/plain", "w\n")
            let started = Date()
            let result = Self.run(server, "ls $C/n; echo \"ls $?\"; ls $C/n; cat $C/n/plain; ls $C/m; cat $C/m/plain")
            // -T 5: a failure retried would take 5 s a listing.
            #expect(Date().timeIntervalSince(started) < 4, "\(result)")
            switch kind {
            case .bundled:
                #expect(result.stdout == "plain\nls 0\nplain\nx\nplain\nw\n", "\(result)")
            case .debian:
                #expect(result.stdout == "ls 2\nx\nw\n", "\(result)")
                #expect(result.stderr.contains("Protocol error"), "\(result)")
            }
            // Not empty, whatever the listing showed: refused, and its ACL kept.
            #expect(Self.run(server, "mkdir $C/r").status == 0)
            server.write("/r/a\nb", "")
            let acl = FileManager.default.fileExists(atPath: server.local("/r/.__acl"))
            let removal = Self.run(server, "rmdir $C/r")
            #expect(removal.status != 0 && removal.stderr.contains("Directory not empty"), "\(removal)")
            #expect(FileManager.default.fileExists(atPath: server.local("/r/.__acl")) == acl)
        }
    }
}
