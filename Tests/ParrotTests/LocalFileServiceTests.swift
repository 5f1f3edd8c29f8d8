import Foundation
import ParrotServices
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The local driver, including the protocol's default whole-file copies.
@Suite struct LocalFileServiceTests {
    @Test func readWriteAndWholeFileCopies() throws {
        let dir = Paths.temporaryDirectory("local-service")
        defer { Paths.remove(dir) }
        let local = LocalFileService()
        let handle = try local.open(dir + "/f", flags: O_RDWR | O_CREAT | O_TRUNC, mode: 0o600)
        try local.write(handle, "hello world")
        #expect(text(try local.pread(handle, count: 5, at: 6)) == "world")
        #expect(try local.fstat(handle).size == 11)
        try local.close(handle)

        let bytes = [UInt8].random(count: 3 << 20)
        #expect(FileManager.default.createFile(atPath: dir + "/big", contents: Data(bytes)))
        #expect(try local.getFile(dir + "/big", to: dir + "/copy") == Int64(bytes.count))
        #expect(try local.putFile(dir + "/copy", to: dir + "/back", mode: 0o644) == Int64(bytes.count))
        #expect(md5sum(dir + "/back") == md5sum(dir + "/big"))
        #expect(thrownErrno { try local.getFile(dir + "/missing", to: dir + "/none") } == ENOENT)
        #expect(access(dir + "/none", F_OK) != 0)
        #expect(thrownErrno { try local.checksum(dir + "/big", algorithm: .md5) } == ENOTSUP)
        let names = Set(try local.readdir(dir).map(\.name))
        #expect(names == [".", "..", "f", "big", "copy", "back"])
    }
}
