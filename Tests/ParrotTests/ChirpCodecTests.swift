@testable import ParrotChirp
import ParrotServices
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Requests and replies byte for byte, without a server.
@Suite struct ChirpCodecTests {
    @Test func requestLinesAreExact() throws {
        let cases: [(ChirpRequest, String)] = [
            (try .open("/a b", flags: "rwct", mode: 0o644), "open /a%20b rwct 420"),
            (try .close(3), "close 3"),
            (try .pread(0, length: 5, offset: 6), "pread 0 5 6"),
            (try .pwrite(1, length: 11, offset: 0), "pwrite 1 11 0"),
            (try .fstat(2), "fstat 2"),
            (try .stat("/hello.txt"), "stat /hello.txt"),
            (try .lstat("/link"), "lstat /link"),
            (try .statfs("/"), "statfs /"),
            (try .access("/x", mode: R_OK | W_OK), "access /x 6"),
            (try .getdir("/d"), "getdir /d"),
            (try .getlongdir("/d"), "getlongdir /d"),
            (try .mkdir("/d", mode: 0o755), "mkdir /d 493"),
            (try .rmdir("/d"), "rmdir /d"),
            (try .unlink("/f"), "unlink /f"),
            (try .rename("/a", to: "/b c"), "rename /a /b%20c"),
            (try .link("/a", to: "/b"), "link /a /b"),
            (try .symlink(target: "up.txt", at: "/newdir/link"), "symlink up.txt /newdir/link"),
            (try .readlink("/l", maxLength: 4096), "readlink /l 4096"),
            (try .truncate("/f", length: 5), "truncate /f 5"),
            (try .chmod("/f", mode: 0o600), "chmod /f 384"),
            (try .chown("/f", uid: 5, gid: 6), "chown /f 5 6"),
            (try .utime("/f", access: 1000, modification: 2000), "utime /f 1000 2000"),
            (try .getfile("/f"), "getfile /f"),
            (try .putfile("/newdir/up.txt", mode: 0o644, length: 11), "putfile /newdir/up.txt 420 11"),
            (try .hash(.sha1, "/f"), "hash sha1 /f"),
            (try .whoami(maxLength: 5), "whoami 5"),
        ]
        for (request, line) in cases {
            #expect(request.line == line)
            #expect(request.bytes == Array((line + "\n").utf8))
        }
    }

    @Test func pathsAreURLEncodedWithTwoHexDigits() {
        #expect(ChirpPathEncoding.encode("/plain/path-1_2.txt") == "/plain/path-1_2.txt")
        #expect(ChirpPathEncoding.encode("/a b%c<d>e'f\"g\\h") == "/a%20b%25c%3Cd%3Ee%27f%22g%5Ch")
        // Everything above 'z', and bytes >= 0x80 as exactly two digits each.
        #expect(ChirpPathEncoding.encode("{|}~é\u{7f}") == "%7B%7C%7D%7E%C3%A9%7F")
        #expect(ChirpPathEncoding.encode("tab\there\nnl") == "tab%09here%0Anl")
    }

    @Test func linesTheServerWouldRefuseAreNotSent() throws {
        // 1023 characters pass; the server drops the connection at 1024.
        let fits = "/" + String(repeating: "a", count: 1023 - "stat /".utf8.count)
        #expect(try ChirpRequest.stat(fits).line.utf8.count == 1023)
        #expect(thrownErrno { try ChirpRequest.stat(fits + "a") } == ENAMETOOLONG)
        // Encoding counts: 400 spaces are 1200 characters on the wire.
        #expect(thrownErrno { try ChirpRequest.stat(String(repeating: " ", count: 400)) } == ENAMETOOLONG)
        // Symlink targets travel raw: a blank cannot be sent.
        #expect(thrownErrno { try ChirpRequest.symlink(target: "a b", at: "/l") } == ENOTSUP)
    }

    @Test func openFlagsBecomeLetters() {
        #expect(ChirpOpenFlags.letters(O_RDONLY) == "r")
        #expect(ChirpOpenFlags.letters(O_WRONLY) == "w")
        #expect(ChirpOpenFlags.letters(O_RDWR) == "rw")
        #expect(ChirpOpenFlags.letters(O_WRONLY | O_CREAT | O_TRUNC) == "wct")
        #expect(ChirpOpenFlags.letters(O_WRONLY | O_APPEND) == "wa")
        #expect(ChirpOpenFlags.letters(O_RDWR | O_CREAT | O_EXCL) == "rwcx")
        #expect(ChirpOpenFlags.letters(O_WRONLY | O_SYNC) == "ws")
        #expect(ChirpOpenFlags.letters(O_WRONLY | O_DSYNC) == "w")
        #expect(ChirpOpenFlags.reopening(O_RDWR | O_CREAT | O_EXCL | O_TRUNC | O_APPEND) == O_RDWR | O_APPEND)
    }

    @Test func statAndStatfsLinesParse() throws {
        let status = try ChirpReplyParsing.status("65024 16236803 33188 1 9999 9998 0 18 4096 8 1795833443 1795833444 1795833445")
        #expect(status == FileStatus(dev: 65024, ino: 16236803, mode: 0o100644, nlink: 1, uid: 9999, gid: 9998, rdev: 0,
                                     size: 18, atime: Timestamp(seconds: 1795833443), mtime: Timestamp(seconds: 1795833444),
                                     ctime: Timestamp(seconds: 1795833445), blksize: 4096, blocks: 8))
        let fs = try ChirpReplyParsing.fileSystemStatus("61267 4096 66053021 62121148 20834530 16777216 16373234")
        #expect(fs == FileSystemStatus(type: 0xEF53, blockSize: 4096, blocks: 66053021, freeBlocks: 62121148,
                                       availableBlocks: 20834530, files: 16777216, freeFiles: 16373234))
        #expect(throws: ChirpReplyParsing.Malformed.self) { try ChirpReplyParsing.status("1 2 3") }
        #expect(throws: ChirpReplyParsing.Malformed.self) { try ChirpReplyParsing.fileSystemStatus("1 2 3 4 5 6 x") }
        #expect(throws: ChirpReplyParsing.Malformed.self) { try ChirpReplyParsing.result("") }
        #expect(try ChirpReplyParsing.result("-3") == -3)
    }

    /// chirp.md §8, with the recommended fixes (-12 EBADF, -17 EAGAIN, below
    /// -24 UNKNOWN) and server-side codes kept as the errno they came from.
    @Test func errorTable() {
        let table: [(Int64, Int32)] = [
            (-1, EACCES), (-2, EACCES), (-3, ENOENT), (-4, EEXIST), (-5, EFBIG), (-6, ENOSPC),
            (-7, ENOMEM), (-8, EINVAL), (-9, EMFILE), (-10, EBUSY), (-11, EAGAIN), (-12, EBADF),
            (-13, EISDIR), (-14, ENOTDIR), (-15, ENOTEMPTY), (-16, EXDEV), (-17, EAGAIN),
            (-18, ETIMEDOUT), (-19, ECONNRESET), (-20, EHOSTUNREACH), (-21, ESRCH), (-22, ESPIPE),
            (-23, ENOTSUP), (-24, ENAMETOOLONG), (-127, EIO), (-25, EIO), (-1000, EIO),
        ]
        for (code, errno) in table {
            #expect(ChirpErrorCode(result: code).errno == errno, "code \(code)")
        }
        #expect(ChirpErrorCode.allCases.count == 25)
    }
}
