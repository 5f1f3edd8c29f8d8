import Foundation
import Testing

/// Attempts to reach a DENY'd file from inside the sandbox. Every one must
/// fail, and the file must be unchanged.
@Suite struct SandboxEscapeTests {
    /// Runs `script` (sh) in the sandbox and expects no SECRET in its output.
    func expectNoLeak(_ script: String, options: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) {
        let tree = SandboxTree()
        defer { tree.remove() }
        let fill = { (text: String) in text.replacingOccurrences(of: "$ROOT", with: tree.root) }
        let (result, log) = tree.shell(fill(script), options: options.map(fill))
        #expect(!result.timedOut, sourceLocation: sourceLocation)
        #expect(!result.stdout.contains("SECRET"), "leaked: \(result)\n\(log)", sourceLocation: sourceLocation)
        #expect(result.stdout.contains("tried"), "the attempt did not run: \(result)", sourceLocation: sourceLocation)
        #expect(tree.secretIntact, "the secret was changed", sourceLocation: sourceLocation)
    }

    @Test func dotDotThroughAMount() {
        // /data is the work directory; its host parent holds `outside`.
        expectNoLeak("""
            cat /data/../outside/secret; cd /data && cat ../outside/secret ../../outside/secret
            ln -s .. /data/up; cat /data/up/outside/secret; ln -s $ROOT/outside /data/out; cat /data/out/secret
            echo tried
            """, options: ["-M", "/data=$ROOT/work"])
    }

    @Test func procSelfRoot() {
        expectNoLeak("""
            cat /proc/self/root$ROOT/outside/secret; cat /proc/$$/root/$ROOT/outside/secret
            cd /proc/self/root$ROOT && cat outside/secret; echo overwrite > /proc/self/root$ROOT/outside/secret
            echo tried
            """)
    }

    @Test func hardLinksToOutsideFiles() {
        expectNoLeak("""
            ln $ROOT/outside/secret $ROOT/work/h; cat $ROOT/work/h
            python3 -c "import os; os.link('$ROOT/outside/secret', '$ROOT/work/h2')"; cat $ROOT/work/h2
            echo tried
            """)
    }

    @Test func renameExchange() {
        expectNoLeak("""
            python3 -c "
            import ctypes, os
            libc = ctypes.CDLL(None, use_errno=True)
            r = libc.renameat2(-100, b'$ROOT/work/file', -100, b'$ROOT/outside/secret', 2)  # RENAME_EXCHANGE
            print('exchange', r, os.strerror(ctypes.get_errno()))
            r = libc.renameat2(-100, b'$ROOT/outside', -100, b'$ROOT/work/o', 0)
            print('move', r, os.strerror(ctypes.get_errno()))
            "
            cat $ROOT/work/file $ROOT/work/o/secret; echo tried
            """)
    }

    @Test func directoryDescriptorsPassedOverUnixSockets() {
        // A helper outside the sandbox hands the sandboxed program an open
        // descriptor of the DENY'd directory: nothing beneath it opens. (The
        // descriptor itself still lists: the kernel checks access when a file
        // is opened, so an open descriptor is a capability its sender gave.)
        let tree = SandboxTree()
        defer { tree.remove() }
        let socketPath = tree.work + "/sock"
        let helper = Process()
        helper.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        helper.arguments = ["-c", """
            import os, socket, sys
            s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); s.settimeout(60)
            c, _ = s.accept()
            fd = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECTORY)
            socket.send_fds(c, [b'x'], [fd]); c.close()
            """, socketPath, tree.outside]
        try? helper.run()
        defer { helper.terminate(); helper.waitUntilExit() }
        while access(socketPath, F_OK) != 0 && helper.isRunning { usleep(10_000) }
        let (result, log) = tree.run(["/usr/bin/python3", "-c", """
            import os, socket, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
            _, fds, _, _ = socket.recv_fds(s, 1, 1)
            for flags in (os.O_RDONLY, os.O_WRONLY | os.O_TRUNC):
                try:
                    f = os.open('secret', flags, dir_fd=fds[0]); print(os.read(f, 100))
                except OSError as e: print('refused', e.strerror)
            try: print(os.listdir(os.open('.', os.O_RDONLY, dir_fd=fds[0])))  # reopened: checked again
            except OSError as e: print('refused', e.strerror)
            """, socketPath])
        #expect(result.stdout == "refused Permission denied\nrefused Permission denied\nrefused Permission denied\n",
                "\(result)\n\(log)")
        #expect(tree.secretIntact)
    }

    @Test func forbiddenCallsAreRefused() {
        let tree = SandboxTree()
        defer { tree.remove() }
        let (result, _) = tree.run([Fixture.binary("refusals")])
        #expect(result.stdout == """
            ptrace: EPERM
            process_vm_writev: EPERM
            seccomp listener: EPERM
            open_by_handle_at: EPERM
            clone untraced: EPERM
            io_uring_setup: ENOSYS
            x32 getpid: ENOSYS
            int 0x80 getpid: ENOSYS

            """, "\(result)")
    }

    @Test func setuidExecutablesAreRefused() {
        let tree = SandboxTree()
        defer { tree.remove() }
        let program = tree.work + "/suid-true"
        #expect(Command.run(["/bin/cp", "/bin/true", program]).status == 0)
        chmod(program, 0o4755)
        let (result, log) = tree.shell("\(program); echo status $?; /bin/true; echo status $?")
        #expect(result.stdout == "status 126\nstatus 0\n", "\(result)")
        #expect(log.contains("suid-true: setuid/setgid executable refused"), "\(log)")
    }
}
