import Foundation
import Testing

/// Virtual descriptors (streamed remote files) passed over unix sockets
/// (SCM_RIGHTS): the receiver gets a real descriptor on a local copy that
/// reads the remote data, and what it writes goes back at its last close.
@Suite struct RightsPassingTests {
    /// Opens the file (a virtual descriptor with --no-cache), sends it to a
    /// forked child, which reads it from the start, appends, and closes.
    static let forkAndSend = """
        import os, socket, sys
        a, b = socket.socketpair()
        fd = os.open(sys.argv[1], os.O_RDWR)
        print("virtual", fd >= 1 << 16, flush=True)
        pid = os.fork()
        if pid == 0:
            a.close()
            msg, fds, _, _ = socket.recv_fds(b, 100, 4)
            got = fds[0]
            os.lseek(got, 0, os.SEEK_SET)
            print("child", msg, len(fds), got < 1 << 16, os.read(got, 100), flush=True)
            os.write(got, b"from the child\\n"); os.close(got)
            os._exit(0)
        b.close()
        socket.send_fds(a, [b"file"], [fd])
        os.waitpid(pid, 0)
        os.close(fd)
        """

    @Test(arguments: ChirpServerKind.allCases)
    func aForkedChildReadsAndWritesThroughAPassedDescriptor(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            server.write("/f.txt", "remote data\n")
            let c = "/chirp/127.0.0.1:\(server.port)"
            let result = Command.run([Paths.parrot, "run", "--no-cache", "-t", cache, "--", "python3", "-c",
                                      Self.forkAndSend, c + "/f.txt"], timeout: 90)
            #expect(result.status == 0 && result.stdout == "virtual True\nchild b'file' 1 True b'remote data\\n'\n",
                    "\(result)")
            #expect(localContents(server.local("/f.txt")) == "remote data\nfrom the child\n")
        }
    }

    /// One virtual descriptor passed twice in one message: two opens of one
    /// local copy whose events inotify may merge; the copy still goes back
    /// when the last is closed, not at the end of the run.
    @Test func oneFilePassedTwiceGoesBackAtItsLastClose() throws {
        try withChirpServer { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            server.write("/f3", "old\n")
            let c = "/chirp/127.0.0.1:\(server.port)"
            let script = """
                python3 -c '
                import os, socket, sys
                a, b = socket.socketpair()
                f = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
                socket.send_fds(a, [b"x"], [f, f]); os.close(f)
                _, fds, _, _ = socket.recv_fds(b, 10, 4)
                os.write(fds[0], b"new\\n")
                for fd in fds: os.close(fd)' \(c)/f3; cat \(c)/f3
                """
            let result = Command.run([Paths.parrot, "run", "--no-cache", "-t", cache, "--", "sh", "-c", script], timeout: 90)
            #expect(result.status == 0 && result.stdout == "new\n", "\(result)")
        }
    }

    /// The receiver is another program that never opened a remote file (it
    /// has no stacked filter); the sender passes two descriptors in one
    /// message, one of them native, and its own control buffer is unchanged.
    @Test func anotherProgramReceivesOverAUnixSocketPath() throws {
        try withChirpServer(.bundled) { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            server.write("/a.txt", "alpha\n")
            let c = "/chirp/127.0.0.1:\(server.port)"
            let receiver = """
                import os, socket, sys
                s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
                conn, _ = s.accept()
                msg, fds, _, _ = socket.recv_fds(conn, 100, 4)
                # One write each: the two programs share the output pipe.
                os.write(1, ("received %r %r\\n" % (msg, [os.read(fd, 100) for fd in fds])).encode())
                """
            let sender = """
                import os, socket, sys, time
                remote = os.open(sys.argv[2], os.O_RDONLY); local = os.open("/etc/hostname", os.O_RDONLY)
                s = socket.socket(socket.AF_UNIX)
                while True:
                    try: s.connect(sys.argv[1]); break
                    except OSError: time.sleep(0.02)
                os.write(1, ("sent %d\\n" % socket.send_fds(s, [b"two"], [remote, local])).encode())
                """
            let socketPath = cache + "/sock"
            let script = "python3 -c '\(receiver)' \(socketPath) & python3 -c '\(sender)' \(socketPath) \(c)/a.txt; wait"
            let result = Command.run([Paths.parrot, "run", "--no-cache", "-t", cache, "--", "/bin/sh", "-c", script], timeout: 90)
            let hostname = localContents("/etc/hostname")
            let expected = "received b'two' [b'alpha\\n', b'\(hostname.replacingOccurrences(of: "\n", with: "\\n"))']"
            #expect(result.status == 0 && result.stdout.contains("sent 3\n") && result.stdout.contains(expected + "\n"),
                    "\(result)")
        }
    }

    /// sendmmsg: only the message that passes a virtual descriptor is
    /// rewritten, the program's msg_len fields are filled in, and its control
    /// buffer still names the virtual descriptor afterwards.
    @Test func sendmmsgPassesOneMessageOfTwo() throws {
        try withChirpServer(.bundled) { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            server.write("/m.txt", "mmsg data\n")
            let source = """
                #define _GNU_SOURCE
                #include <stdio.h>
                #include <string.h>
                #include <fcntl.h>
                #include <unistd.h>
                #include <sys/socket.h>
                #include <sys/wait.h>
                int main(int argc, char **argv) {
                  int sv[2]; socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
                  int fd = open(argv[1], O_RDONLY);
                  if (fd < (1 << 16)) { printf("not virtual: %d\\n", fd); return 1; }
                  if (fork() == 0) {
                    for (int m = 0; m < 2; m++) {
                      char data[16] = {0}, cbuf[CMSG_SPACE(sizeof(int))];
                      struct iovec iov = { data, sizeof data };
                      struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
                      recvmsg(sv[1], &h, 0);
                      struct cmsghdr *c = CMSG_FIRSTHDR(&h);
                      if (!c) { printf("%s: no descriptor\\n", data); continue; }
                      int got; memcpy(&got, CMSG_DATA(c), sizeof got);
                      char buf[64] = {0}; read(got, buf, 63);
                      printf("%s: %s", data, buf);
                    }
                    return 0;
                  }
                  struct mmsghdr v[2]; memset(v, 0, sizeof v);
                  struct iovec iov[2] = { { "plain", 6 }, { "passing", 8 } };
                  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
                  v[0].msg_hdr.msg_iov = &iov[0]; v[0].msg_hdr.msg_iovlen = 1;
                  v[1].msg_hdr.msg_iov = &iov[1]; v[1].msg_hdr.msg_iovlen = 1;
                  v[1].msg_hdr.msg_control = control.buf; v[1].msg_hdr.msg_controllen = sizeof control.buf;
                  struct cmsghdr *c = CMSG_FIRSTHDR(&v[1].msg_hdr);
                  c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
                  memcpy(CMSG_DATA(c), &fd, sizeof fd);
                  int sent = sendmmsg(sv[0], v, 2, 0);
                  int named; memcpy(&named, CMSG_DATA(c), sizeof named);
                  printf("sent %d, lengths %u %u, control unchanged %d\\n", sent, v[0].msg_len, v[1].msg_len, named == fd);
                  fflush(stdout);
                  wait(NULL);
                  return 0;
                }
                """
            Paths.write(source, to: cache + "/mm.c")
            let build = Command.run(["cc", "-o", cache + "/mm", cache + "/mm.c"])
            try #require(build.status == 0, "\(build)")
            let c = "/chirp/127.0.0.1:\(server.port)"
            let result = Command.run([Paths.parrot, "run", "--no-cache", "-t", cache, "--", cache + "/mm", c + "/m.txt"],
                                     timeout: 90)
            let lines = result.stdout.split(separator: "\n").map(String.init).sorted()
            #expect(result.status == 0
                    && lines == ["passing: mmsg data", "plain: no descriptor", "sent 2, lengths 6 8, control unchanged 1"],
                    "\(result)")
        }
    }

    /// With --net local the base filter traps sendmsg too, and the stacked
    /// filter's reason wins: the network rule must still refuse a far
    /// address, and descriptors still pass over a unix socket.
    @Test func theNetworkRuleStillHoldsForAProcessThatPassesDescriptors() throws {
        try withChirpServer(.bundled) { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            server.write("/n.txt", "net\n")
            let c = "/chirp/127.0.0.1:\(server.port)"
            let script = """
                import os, socket, sys
                fd = os.open(sys.argv[1], os.O_RDONLY)
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try: u.sendmsg([b"x"], [], 0, ("192.0.2.1", 53)); print("far sent")
                except OSError as e: print("far refused", e.errno)
                a, b = socket.socketpair()
                socket.send_fds(a, [b"f"], [fd])
                _, fds, _, _ = socket.recv_fds(b, 10, 1)
                print("passed", os.read(fds[0], 10))
                """
            let result = Command.run([Paths.parrot, "run", "--sandbox", "-M", "/=rwx", "--net", "local", "--no-cache",
                                      "-t", cache, "--", "python3", "-c", script, c + "/n.txt"], timeout: 90)
            #expect(result.status == 0 && result.stdout == "far refused 13\npassed b'net\\n'\n", "\(result)")
        }
    }
}
