import Foundation
import Testing

/// A tree to mount at /data: a file, a subdirectory, a script, a small C project.
private let dataTree = """
    mkdir -p sub/deeper && printf 'hello\\n' > f && printf 'in sub\\n' > sub/g
    printf '#!/bin/sh\\necho "script $0 $1 $(pwd)"\\n' > script.sh && chmod +x script.sh
    printf '#include <stdio.h>\\nint main(void){puts("hello from make");return 0;}\\n' > hello.c
    printf 'hello: hello.c\\n\\tcc -o hello hello.c\\n' > Makefile
    """

/// One script run three ways on fresh copies of `dataTree`: natively on the real
/// directory (with its path written in for /data, and written back to /data in
/// the output), under `proot -b DIR:/data`, and under `parrot run -M /data=DIR`.
private struct ThreeRuns {
    var native: CommandResult, proot: CommandResult, parrot: CommandResult
    var nativeTree: [String], prootTree: [String], parrotTree: [String]

    init(_ script: String) {
        let dirs = ["native", "proot", "parrot"].map { Paths.temporaryDirectory($0) + "/data" }
        defer { dirs.forEach { Paths.remove(($0 as NSString).deletingLastPathComponent) } }
        for dir in dirs {
            mkdir(dir, 0o755)
            #expect(Command.shell(dataTree, cwd: dir).status == 0)
        }
        let work = Paths.temporaryDirectory("cwd")
        defer { Paths.remove(work) }
        func back(_ result: CommandResult, _ dir: String) -> CommandResult {
            CommandResult(status: result.status, stdout: result.stdout.replacingOccurrences(of: dir, with: "/data"),
                          stderr: result.stderr.replacingOccurrences(of: dir, with: "/data"), timedOut: result.timedOut)
        }
        native = back(Command.run(["/bin/bash", "-c", script.replacingOccurrences(of: "/data", with: dirs[0])], cwd: work), dirs[0])
        proot = Command.run(["/usr/bin/proot", "-b", "\(dirs[1]):/data", "/bin/bash", "-c", script], cwd: work)
        parrot = Command.run([Paths.parrot, "run", "-M", "/data=\(dirs[2])", "--", "/bin/bash", "-c", script], cwd: work)
        nativeTree = TreeSnapshot.of(dirs[0])
        prootTree = TreeSnapshot.of(dirs[1])
        parrotTree = TreeSnapshot.of(dirs[2])
    }
}

@Suite struct MountAgainstProotTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let script: String
        /// Debian's proot 5.1 gets this one wrong (e.g. it does not know statx,
        /// which coreutils' ls and stat use): compare with the native run only.
        var prootIsWrong = false
        /// A link target or `..` that names /data itself: the native run on the
        /// real directory cannot express it; compare with proot only.
        var nativeCannotExpress = false
        var testDescription: String { String(script.prefix(60)) }
    }

    static let cases: [Case] = [
        Case(script: "ls /data; ls /data/sub; cat /data/f /data/sub/g; stat -c '%n %s %F' /data/f /data/sub; test -d /data && echo dir",
             prootIsWrong: true),
        Case(script: "cat /data/f /data/sub/g; cd /data && ls; test -d /data/sub && echo dir; find /data | sort"),
        Case(script: "cd /data && make -s && ./hello && make -s && ls"),
        Case(script: "cd /data && echo x > a && mv a b && mkdir d && mv b d/ && ls -R && cp -r d e && rm -r d && ls && rm e/b && rmdir e && ls"),
        Case(script: "ln -s /data/f /data/abs && cat /data/abs && readlink /data/abs && cd /data/sub && cat ../f && cat /data/../etc/hostname | wc -l",
             nativeCannotExpress: true),
        Case(script: "cd /data/sub && pwd && /bin/pwd && readlink /proc/self/cwd && python3 -c 'import os; print(os.getcwd())' && cd .. && pwd"),
        Case(script: "/data/script.sh arg1; cd /data && ./script.sh arg2; cd sub && ../script.sh arg3; sh /data/script.sh arg4"),
        Case(script: "cp /bin/readlink /data/rl && /data/rl /proc/self/exe; cd /data && ./rl /proc/self/exe"),
        Case(script: "exec 3< /data/f; readlink /proc/self/fd/3 /proc/$$/fd/3; cd /data/sub && readlink /proc/$$/cwd /proc/$$/task/$$/cwd; readlink /proc/self/task/$$/cwd; echo $?",
             prootIsWrong: true),  // proot shows a stale cwd for /proc/PID/task/TID/cwd
        Case(script: """
            python3 -c "
            import os
            fd = os.open('/data', os.O_RDONLY)
            print(os.stat('f', dir_fd=fd).st_size, sorted(os.listdir(fd)), os.access('f', os.R_OK, dir_fd=fd))
            os.mkdir('nd', dir_fd=fd); print(os.path.isdir('/data/nd'))
            os.rename('f', 'f2', src_dir_fd=fd, dst_dir_fd=fd); os.symlink('f2', 'lf', dir_fd=fd)
            print(os.readlink('lf', dir_fd=fd), open('/data/lf').read().strip())
            os.unlink('lf', dir_fd=fd)
            "
            """),
        Case(script: """
            python3 -c "
            import socket, os
            s = socket.socket(socket.AF_UNIX); s.bind('/data/sock'); s.listen(1)
            c = socket.socket(socket.AF_UNIX); c.connect('/data/sock'); a, _ = s.accept(); c.send(b'ping')
            print(a.recv(4), os.path.exists('/data/sock'))
            "; find /data -name sock
            """),
        Case(script: "cat /data/missing; echo \"status $?\"; mkdir /data/f/x; echo \"status $?\"; cat /data/sub; echo \"status $?\""),
        // rmdir, unlink and rename act on a link itself, even with a slash after it: refused, nothing removed.
        Case(script: """
            mkdir /data/empty && ln -s empty /data/ld && ln -s f /data/lf && python3 -c "
            import os
            for call, path in ((os.rmdir, '/data/ld/'), (os.unlink, '/data/lf/'), (os.unlink, '/data/ld/'),
                               (lambda p: os.rename(p, '/data/moved'), '/data/ld/'), (os.rmdir, '/data/empty/')):
                try: call(path); print('done', path)
                except OSError as e: print(e.strerror, path)
            "; ls /data
            """, prootIsWrong: true),
        // `.` and `..` last: refused as the kernel refuses them, never the directory itself removed or moved.
        Case(script: """
            mkdir -p /data/e /data/dd/sub && cd /data && python3 -c "
            import os
            for call, path in ((os.rmdir, 'e/.'), (os.rmdir, 'e/./'), (os.rmdir, 'e/..'), (os.unlink, 'e/.'), (os.rmdir, '.'),
                               (lambda p: os.rename(p, 'n'), 'dd/sub/..'), (lambda p: os.rename(p, 'n'), 'e/.'),
                               (lambda p: os.rename('e', p), 'dd/.'), (os.rmdir, 'none/.'), (os.rmdir, 'f/.'),
                               (os.unlink, 'f/..')):
                try: call(path); print('done', path)
                except OSError as e: print(e.strerror, path)
            "; ls /data
            """, prootIsWrong: true),  // proot moves dd for dd/sub/..
    ]

    @Test(arguments: cases)
    func sameAsNativeAndProot(_ testCase: Case) {
        let runs = ThreeRuns(testCase.script)
        if !testCase.nativeCannotExpress { expectSameAsNative(runs) }
        guard !testCase.prootIsWrong else { return }
        #expect(runs.parrot.status == runs.proot.status, "parrot: \(runs.parrot)\nproot: \(runs.proot)")
        #expect(runs.parrot.stdout == runs.proot.stdout, "parrot: \(runs.parrot)\nproot: \(runs.proot)")
        #expect(runs.parrot.stderr == runs.proot.stderr, "parrot: \(runs.parrot)\nproot: \(runs.proot)")
        #expect(runs.parrotTree == runs.prootTree)
    }

    private func expectSameAsNative(_ runs: ThreeRuns) {
        #expect(runs.parrot.status == runs.native.status, "parrot: \(runs.parrot)\nnative: \(runs.native)")
        #expect(runs.parrot.stdout == runs.native.stdout, "parrot: \(runs.parrot)\nnative: \(runs.native)")
        #expect(runs.parrot.stderr == runs.native.stderr, "parrot: \(runs.parrot)\nnative: \(runs.native)")
        #expect(runs.parrotTree == runs.nativeTree)
    }
}

/// Calls that Debian's proot gets wrong (openat2, statx, faccessat2 and
/// execveat are unknown to it): compared with the native run on the real path.
@Suite struct MountSyscallTests {
    @Test func atFamilyOpenat2StatxExecveat() {
        let dir = Paths.temporaryDirectory("data")
        defer { Paths.remove(dir) }
        #expect(Command.shell(dataTree, cwd: dir).status == 0)
        let probe = Fixture.binary("nsprobe")
        let native = Command.run([probe, dir], cwd: "/")
        let traced = Command.run([Paths.parrot, "run", "-M", "/data=\(dir)", "--", probe, "/data"], cwd: "/")
        #expect(traced.status == 0 && native.status == 0, "\(traced)")
        let nativeLines = native.stdout.replacingOccurrences(of: dir, with: "/data").split(separator: "\n")
        let tracedLines = traced.stdout.split(separator: "\n")
        #expect(tracedLines.dropLast() == nativeLines.dropLast(), "\(traced.stdout)")
        // Natively the script runs as /dev/fd/N/script.sh; the program's view names it.
        #expect(tracedLines.last == "script /data/script.sh via-execveat /data/sub")
    }

    @Test func workDirOptionStartsInTheProgramsView() {
        let dir = Paths.temporaryDirectory("data")
        defer { Paths.remove(dir) }
        #expect(Command.shell(dataTree, cwd: dir).status == 0)
        let result = Command.run([Paths.parrot, "run", "-M", "/data=\(dir)", "-w", "/data/sub", "--",
                                  "/bin/sh", "-c", "pwd; /bin/pwd; cat g; echo $PWD"])
        #expect(result.stdout == "/data/sub\n/data/sub\nin sub\n/data/sub\n", "\(result)")
    }
}

/// The mount-list file: modes, DENY, ENOENT, LOCAL, precedence and errors.
@Suite struct MountListFileTests {
    func run(_ mountList: String, _ script: String, data: String) -> CommandResult {
        let listDir = Paths.temporaryDirectory("list")
        defer { Paths.remove(listDir) }
        let list = mountList.replacingOccurrences(of: "DATA", with: data)
        Paths.write(list, to: listDir + "/mounts.txt")
        return Command.run([Paths.parrot, "run", "-m", listDir + "/mounts.txt", "--", "/bin/bash", "-c", script], cwd: "/")
    }

    @Test func readOnlyEntryRefusesWritesWithEACCES() {
        let dir = Paths.temporaryDirectory("data")
        defer { Paths.remove(dir) }
        #expect(Command.shell(dataTree, cwd: dir).status == 0)
        let result = run("# read-only data\n/data DATA rx\n", """
            cat /data/f; /data/script.sh ok
            echo x > /data/f; echo "write $?"
            echo x > /data/new; echo "create $?"
            mkdir /data/d; echo "mkdir $?"; rm /data/f; echo "rm $?"; mv /data/f /data/g; echo "mv $?"
            touch /data/f; echo "touch $?"; ln -s f /data/l; echo "ln $?"; chmod 600 /data/f; echo "chmod $?"
            python3 -c 'import os; print(os.access("/data/f", os.W_OK), os.access("/data/f", os.R_OK))'
            """, data: dir)
        #expect(result.stdout == """
            hello
            script /data/script.sh ok /
            write 1
            create 1
            mkdir 1
            rm 1
            mv 1
            touch 1
            ln 1
            chmod 1
            False True

            """, "\(result)")
        #expect(result.stderr.contains("/data/f: Permission denied"))
        #expect(TreeSnapshot.of(dir).filter { $0.contains("./new") || $0.contains("./d ") }.isEmpty)
    }

    @Test func denyEnoentAndLocal() {
        let dir = Paths.temporaryDirectory("data")
        defer { Paths.remove(dir) }
        #expect(Command.shell(dataTree, cwd: dir).status == 0)
        let result = run("""
            /data DATA
            /data/sub DENY
            /data/script.sh ENOENT
            /secret DENY
            /data/sub/deeper LOCAL
            """, """
            cat /data/f; cat /data/sub/g; echo "deny $?"; ls /data/script.sh; echo "enoent $?"
            test -e /data/sub/deeper; echo "local $?"; cat /secret/x; echo "secret $?"
            cd /data/sub; echo "cd $?"
            """, data: dir)
        #expect(result.stdout == "hello\ndeny 1\nenoent 2\nlocal 1\nsecret 1\ncd 1\n", "\(result)")
        #expect(result.stderr.contains("/data/sub/g: Permission denied"))
        #expect(result.stderr.contains("/data/script.sh': No such file or directory"))
    }

    @Test func laterLinesOverrideEarlierOnes() {
        let first = Paths.temporaryDirectory("first"), second = Paths.temporaryDirectory("second")
        defer { Paths.remove(first); Paths.remove(second) }
        Paths.write("first\n", to: first + "/which")
        Paths.write("second\n", to: second + "/which")
        let result = run("/data \(first)\n/data \(second)\n", "cat /data/which", data: "")
        #expect(result.stdout == "second\n", "\(result)")
    }

    @Test func syntaxErrorNamesFileAndLineAndNothingRuns() {
        let markerDirectory = Paths.temporaryDirectory("marker")
        defer { Paths.remove(markerDirectory) }
        let marker = markerDirectory + "/ran"
        let result = run("/data /tmp\n\n/bad relative/path\n", "touch \(marker)", data: "")
        #expect(result.status != 0)
        #expect(result.stderr.contains("mounts.txt:3: redirect 'relative/path' is neither an absolute path"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        let mode = run("/data /tmp rwz\n", "touch \(marker)", data: "")
        #expect(mode.stderr.contains("mounts.txt:1: mode 'rwz'"), "\(mode)")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }
}
