import Foundation
import Testing

/// sh and coreutils under --sandbox: what the policy allows works as natively,
/// everything else fails with EACCES and is logged.
@Suite struct SandboxBehaviourTests {
    @Test func shellAndCoreutilsFollowThePolicy() {
        let tree = SandboxTree()
        defer { tree.remove() }
        let (result, log) = tree.shell("""
            mkdir d && echo one > d/f && cp d/f d/g && mv d/g e && cat d/f e && rm -r d e && ls
            echo x > ../readonly/new 2>/dev/null || echo "write outside: $?"
            cat ../readonly/file; rm ../readonly/file 2>/dev/null || echo "rm read-only: $?"
            cat ../outside/secret 2>&1 | sed 's/.*: //'; ls ../outside 2>&1 | sed 's/.*: //'
            cat ../hidden/file 2>&1 | sed 's/.*: //'
            cp /bin/true ./t && ./t && echo "exec in work"
            """)
        #expect(result.stdout == """
            one
            one
            file
            write outside: 2
            visible
            rm read-only: 1
            Permission denied
            Permission denied
            No such file or directory
            exec in work

            """, "\(result)\n\(log)")
        #expect(log.contains("readonly/new: -w- not allowed"), "\(log)")
        #expect(log.contains("outside/secret -> EACCES"), "\(log)")
    }

    @Test func programsOutsideAnExecutableEntryDoNotRun() {
        let tree = SandboxTree()
        defer { tree.remove() }
        #expect(Command.run(["/bin/cp", "/bin/true", tree.root + "/readonly/t"]).status == 0)
        let (result, log) = tree.run(["/bin/sh", "-c", "../readonly/t; echo $?"],
                                     options: ["-M", "\(tree.root)/readonly=r"])
        #expect(result.stdout == "126\n", "\(result)\n\(log)")
        // The program itself outside every x entry does not start (126).
        let direct = tree.run([tree.root + "/readonly/t"], options: ["-M", "\(tree.root)/readonly=r"])
        #expect(direct.0.status == 126, "\(direct.0)")
    }

    @Test func startUpReportSaysWhatHolds() {
        let tree = SandboxTree()
        defer { tree.remove() }
        let (result, log) = tree.run(["/bin/true"])
        #expect(result.status == 0)
        #expect(log.contains("Landlock ABI") || log.contains("no Landlock"), "\(log)")
        #expect(log.contains("tracer-enforced (can be raced): ENOENT entries"), "\(log)")
        let (_, tracerOnly) = tree.run(["/bin/true"], options: ["--no-landlock"])
        #expect(tracerOnly.contains("every file decision is made by the tracer"), "\(tracerOnly)")
    }

    @Test func denyNetRefusesIPAndKeepsUnixSockets() {
        let tree = SandboxTree()
        defer { tree.remove() }
        // A listener outside the sandbox, on loopback.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(listener, $0, length)
                _ = getsockname(listener, $0, &length)
            }
        }
        listen(listener, 8)
        let port = UInt16(bigEndian: address.sin_port)
        let probe = """
            import socket, sys
            def attempt(name, f):
                try: f(); print(name, 'ok')
                except OSError as e: print(name, e.strerror)
            attempt('tcp connect', lambda: socket.create_connection(('127.0.0.1', \(port)), timeout=5))
            attempt('tcp bind', lambda: socket.socket().bind(('127.0.0.1', 0)))
            attempt('tcp bind any', lambda: socket.socket().bind(('0.0.0.0', 0)))
            attempt('udp send', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', \(port))))
            attempt('unix pair', lambda: (lambda pair: pair[0].send(b'x') + len(pair[1].recv(1)))(socket.socketpair()))
            """
        let (none, log) = tree.run(["/usr/bin/python3", "-c", probe], options: ["--deny-net"])
        #expect(none.stdout == """
            tcp connect Permission denied
            tcp bind Permission denied
            tcp bind any Permission denied
            udp send Permission denied
            unix pair ok

            """, "\(none)\n\(log)")
        #expect(log.contains("refused"), "\(log)")
        let (local, localLog) = tree.run(["/usr/bin/python3", "-c", probe], options: ["--net", "local"])
        #expect(local.stdout == """
            tcp connect ok
            tcp bind ok
            tcp bind any Permission denied
            udp send ok
            unix pair ok

            """, "\(local)\n\(localLog)")
        let (open, _) = tree.run(["/usr/bin/python3", "-c", probe], options: ["--allow-net"])
        #expect(open.stdout.components(separatedBy: " ok").count == 6, "\(open)")
    }

    @Test func badOptionsAreNamed() {
        let noSandbox = Command.run([Paths.parrot, "run", "--deny-net", "--", "/bin/true"])
        #expect(noSandbox.status != 0 && noSandbox.stderr.contains("need --sandbox"), "\(noSandbox)")
        let badNet = Command.run([Paths.parrot, "run", "--sandbox", "--net", "lan", "--", "/bin/true"])
        #expect(badNet.status != 0 && badNet.stderr.contains("--net must be allow, local or none"), "\(badNet)")
        let both = Command.run([Paths.parrot, "run", "--sandbox", "--allow-net", "--deny-net", "--", "/bin/true"])
        #expect(both.status != 0 && both.stderr.contains("exclude each other"), "\(both)")
    }
}
