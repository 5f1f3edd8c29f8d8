import Foundation
import ParrotServices
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The errno a service call threw, or nil when it succeeded (-1: not a ServiceError).
func thrownErrno<T>(_ body: () throws -> T) -> Int32? {
    do {
        _ = try body()
        return nil
    } catch let error as ServiceError {
        return error.errno
    } catch {
        return -1
    }
}

/// The local lstat (or stat) of a file, as a FileStatus.
func localStatus(_ path: String, follow: Bool = false) -> FileStatus {
    var st = stat()
    let result = follow ? stat(path, &st) : lstat(path, &st)
    precondition(result == 0, "cannot stat \(path)")
    return FileStatus(st)
}

/// Every field equal; times to the second, the protocol's resolution.
func expectSameStatus(_ remote: FileStatus, _ local: FileStatus, _ what: String = "",
                      sourceLocation: SourceLocation = #_sourceLocation) {
    var expected = local
    expected.atime.nanoseconds = 0
    expected.mtime.nanoseconds = 0
    expected.ctime.nanoseconds = 0
    #expect(remote == expected, "\(what): remote \(remote) local \(expected)", sourceLocation: sourceLocation)
}

extension [UInt8] {
    static func random(count: Int) -> [UInt8] {
        let urandom = FileHandle(forReadingAtPath: "/dev/urandom")!
        defer { try? urandom.close() }
        return [UInt8](urandom.readData(ofLength: count))
    }

    var hex: String { map { String(format: "%02x", $0) }.joined() }
}

/// md5sum of a local file, as lowercase hex.
func md5sum(_ path: String) -> String {
    String(Command.run(["/usr/bin/md5sum", path]).stdout.prefix(32))
}

/// Byte-array conveniences over the buffer-based service calls.
extension FileService {
    func pread(_ handle: ServiceHandle, count: Int, at offset: Int64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let done = try bytes.withUnsafeMutableBytes { try pread(handle, into: $0, at: offset) }
        return Array(bytes[..<done])
    }

    func read(_ handle: ServiceHandle, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let done = try bytes.withUnsafeMutableBytes { try read(handle, into: $0) }
        return Array(bytes[..<done])
    }

    @discardableResult
    func pwrite(_ handle: ServiceHandle, _ bytes: [UInt8], at offset: Int64) throws -> Int {
        try bytes.withUnsafeBytes { try pwrite(handle, from: $0, at: offset) }
    }

    @discardableResult
    func write(_ handle: ServiceHandle, _ text: String) throws -> Int {
        try Array(text.utf8).withUnsafeBytes { try write(handle, from: $0) }
    }
}

/// Runs `body` with a fresh server, and stops the server whatever happens.
func withChirpServer(_ arguments: [String] = [], auth: [String] = ChirpServer.allMethods, privatePort: Bool = false,
                     _ body: (ChirpServer) throws -> Void) throws {
    let server = try ChirpServer(arguments, auth: auth, privatePort: privatePort)
    defer { server.finish() }
    try body(server)
}

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

func localContents(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? "<unreadable>"
}
