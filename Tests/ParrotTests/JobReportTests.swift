import Foundation
import Testing

/// --stats-file, -W, --name-list, --env-list and packages made from them.
@Suite struct JobReportTests {
    @Test func statisticsDescribeProcessesCallsAndRemoteIO() throws {
        try withChirpServer { server in
            server.write("/data.txt", String(repeating: "x", count: 10_000))
            let work = Paths.temporaryDirectory("stats")
            defer { Paths.remove(work) }
            let c = "/chirp/127.0.0.1:\(server.port)"
            let result = Command.run([Paths.parrot, "run", "--stats-file", work + "/stats.json", "-W", "--",
                                      "/bin/sh", "-c", "cat \(c)/data.txt > /dev/null; echo hi > \(c)/out.txt; sh -c 'kill -TERM $$'; exit 3"])
            #expect(result.status == 3, "\(result)")
            #expect(result.stderr.contains("trapped calls:") && result.stderr.contains("openat"), "\(result)")
            let data = try #require(FileManager.default.contents(atPath: work + "/stats.json"))
            let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect((report["ending"] as? [String: Int])?["exit"] == 3)
            #expect((report["command"] as? [String])?.first == "/bin/sh")
            let processes = try #require(report["processes"] as? [[String: Any]])
            let argvs = processes.compactMap { $0["argv"] as? [String] }
            #expect(argvs.contains(["cat", "\(c)/data.txt"]), "\(argvs)")
            #expect(processes.contains { ($0["ending"] as? [String: Int])?["signal"] == 15 }, "\(processes)")
            let calls = try #require(report["trapped_syscalls"] as? [String: Int])
            #expect((calls["openat"] ?? 0) > 0 && (calls["execve"] ?? 0) >= 3)
            let services = try #require(report["services"] as? [String: [String: Any]])
            let chirp = try #require(services["chirp/127.0.0.1:\(server.port)"], "\(services)")
            #expect(chirp["bytes_read"] as? Int == 10_000, "\(chirp)")
            #expect(chirp["bytes_written"] as? Int == 3, "\(chirp)")
            // Read whole into the cache.
            #expect(((chirp["operations"] as? [String: Int])?["getfile"] ?? 0) == 1, "\(chirp)")
            for key in ["wall_seconds", "user_cpu_seconds", "peak_memory_kib"] { #expect(report[key] != nil, "\(key)") }
        }
    }

    @Test func packageRerunsAJobWithoutItsOriginalFiles() throws {
        let work = Paths.temporaryDirectory("package")
        defer { Paths.remove(work) }
        let job = work + "/job"
        Paths.write("def greet(x):\n    return 'hello ' + x\n", to: job + "/private/greeting.py")
        Paths.write("from the data file\n", to: job + "/data.txt")
        Paths.write("""
            import sys
            sys.path.insert(0, "\(job)/private")
            import greeting
            print(greeting.greet(open("\(job)/data.txt").read().strip()))
            """, to: job + "/job.py")
        let first = Command.run([Paths.parrot, "run", "--name-list", work + "/names", "--env-list", work + "/env", "--",
                                 "python3", "job.py"], cwd: job)
        #expect(first.status == 0 && first.stdout == "hello from the data file\n", "\(first)")
        let names = (try? String(contentsOfFile: work + "/names", encoding: .utf8)) ?? ""
        #expect(names.contains("read\t\(job)/data.txt") && names.contains("read\t\(job)/private/greeting.py"), "\(names)")
        let create = Command.run([Paths.parrot, "package", "create", "--name-list", work + "/names", "--env-list", work + "/env",
                                  "-o", work + "/pkg"])
        #expect(create.status == 0, "\(create)")
        // Without the originals the job fails natively, and works from the package.
        Paths.remove(job)
        let without = Command.run(["python3", "-c", "open('\(job)/data.txt')"])
        #expect(without.status != 0)
        let again = Command.run([Paths.parrot, "package", "run", work + "/pkg", "--", "python3", "job.py"])
        #expect(again.status == 0 && again.stdout == first.stdout, "\(again)")
    }

    @Test func reportFilesThatCannotBeWrittenStopEverything() {
        let result = Command.run([Paths.parrot, "run", "--stats-file", "/nonexistent-dir/stats.json", "--", "/bin/sh", "-c", "echo ran"])
        #expect(result.status != 0 && result.stdout.isEmpty, "\(result)")
        #expect(result.stderr.contains("--stats-file /nonexistent-dir/stats.json: ENOENT"), "\(result)")
        let bad = Command.run([Paths.parrot, "package", "create", "--name-list", "/dev/null/x", "-o", "/tmp/never"])
        #expect(bad.status != 0 && bad.stderr.contains("ENOTDIR"), "\(bad)")
    }
}
