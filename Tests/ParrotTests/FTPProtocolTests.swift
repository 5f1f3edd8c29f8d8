import Foundation
@testable import ParrotFTP
import ParrotServices
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The FTP driver's parsers and its table rows that no test server can
/// produce (a 502, a 421 on a fresh login), without a network.
@Suite struct FTPProtocolTests {
    func reply(_ text: String) throws -> FTPReply {
        var lines = text.split(separator: "\n").map(String.init)[...]
        return try #require(try FTPReply.read { () throws(ServiceError) in lines.popFirst() })
    }

    @Test func multiLineReplies() throws {
        let feat = try reply("211-Features:\n MLST type*;size*;modify*;perm*;unix.mode;\n MFMT\n EPSV\n211 End")
        #expect(feat.code == 211 && feat.body.count == 3)
        let features = FTPFeatures(feat: feat)
        #expect(features.mlst && features.mfmt && !features.mdtm)
        #expect(features.mlstFacts == ["type", "size", "modify", "perm", "unix.mode"])
        // A line inside that starts with other digits does not end the reply.
        let odd = try reply("250-first\n200 not the end\n250 end")
        #expect(odd.lines.count == 3 && odd.text == "end")
        #expect(try reply("226 Transfer complete.").text == "Transfer complete.")
        var garbage = ["hello"][...]
        #expect(throws: ServiceError.self) { try FTPReply.read { () throws(ServiceError) in garbage.popFirst() } }
    }

    @Test func passivePorts() {
        #expect(FTPControlConnection.epsvPort("Entering Extended Passive Mode (|||6446|)") == 6446)
        #expect(FTPControlConnection.pasvPort("Entering Passive Mode (127,0,0,1,195,80).") == UInt16(50_000))
        #expect(FTPControlConnection.pasvPort("Entering Passive Mode =127,0,0,1,4,1") == 1025)
        #expect(FTPControlConnection.epsvPort("no port here") == nil)
    }

    @Test func unixListingLines() throws {
        // 2026-11-28 10:00 UTC
        let now = FTPListing.utc(year: 2026, month: 11, day: 28, hour: 10, minute: 0, second: 0)
        let recent = try #require(FTPListing.unixLine("-rw-r--r--    1 ftp      ftp          1234 Nov 28 09:04 a file.txt", now: now))
        #expect(recent.name == "a file.txt" && recent.size == 1234 && recent.type == S_IFREG && recent.mode == 0o644)
        #expect(recent.mtime == FTPListing.utc(year: 2026, month: 11, day: 28, hour: 9, minute: 4, second: 0))
        // "Dec 30 12:00" seen in November is last December.
        let lastYear = try #require(FTPListing.unixLine("drwxr-x--x 2 0 0 4096 Dec 30 12:00 d", now: now))
        #expect(lastYear.type == S_IFDIR && lastYear.mode == 0o751)
        #expect(lastYear.mtime == FTPListing.utc(year: 2025, month: 12, day: 30, hour: 12, minute: 0, second: 0))
        let old = try #require(FTPListing.unixLine("-rwsr-xr-t 1 u g 7 Jan  5  2019 old", now: now))
        #expect(old.mode == 0o5755 && old.mtime == FTPListing.utc(year: 2019, month: 1, day: 5, hour: 0, minute: 0, second: 0))
        let link = try #require(FTPListing.unixLine("lrwxrwxrwx 1 u g 3 Nov 28 09:04 l -> target dir", now: now))
        #expect(link.type == S_IFLNK && link.name == "l" && link.linkTarget == "target dir")
        #expect(FTPListing.unixLine("total 12", now: now) == nil)
    }

    @Test func factLines() throws {
        let file = try #require(FTPListing.facts("type=file;size=12;modify=20261128090102.123;perm=r;unix.mode=0o640; name with ;semi"))
        #expect(file.name == "name with ;semi" && file.size == 12 && file.mode == 0o640 && file.perm == "r")
        #expect(file.mtime == FTPListing.utc(year: 2026, month: 11, day: 28, hour: 9, minute: 1, second: 2))
        #expect(!file.isWritable)
        let dir = try #require(FTPListing.facts(" Type=dir;Perm=elcmd; /pub/d"))
        #expect(dir.type == S_IFDIR && dir.isWritable && dir.permissionBits == 0o755)
        #expect(FTPListing.facts("type=cdir; /pub")?.name == ".")
    }

    @Test func authorities() throws {
        let plain = try FTPServer(authority: "ftp.example.org", secure: false)
        #expect(plain.port == 21 && plain.user == nil && !plain.implicitTLS)
        let implicit = try FTPServer(authority: "bob@h", secure: true)
        #expect(implicit.port == 990 && implicit.user == "bob" && implicit.implicitTLS)
        let explicit = try FTPServer(authority: "h:2121", secure: true)
        #expect(explicit.port == 2121 && !explicit.implicitTLS)
        let v6 = try FTPServer(authority: "me@[::1]:2121", secure: false)
        #expect(v6.host == "::1" && v6.port == 2121 && v6.user == "me")
        for bad in ["", "h:0", "h:x", "@h", "[::1]x"] {
            #expect(throws: ServiceError.self, "\(bad)") { try FTPServer(authority: bad, secure: false) }
        }
    }

    @Test func netrcEntries() {
        let credentials = FTPCredentials(netrc: """
            machine a.example login alice password s3cret
            machine a.example login bob password other
            macdef init
            cd /pub

            default login anonymous password me@here
            """)
        #expect(credentials.login(host: "a.example", user: "bob")?.password == "other")
        #expect(credentials.login(host: "a.example", user: nil)?.user == "alice")
        #expect(credentials.login(host: "b.example", user: nil)?.password == "me@here")
        #expect(credentials.login(host: "b.example", user: "carol") == nil)
    }

    /// Rows decided by the reply alone, for replies the test servers never send.
    static let replyOnlyRows: [(String, FTPOperation, Int32)] = [
        ("530 Not logged in", .read, EACCES),
        ("532 Need account for storing files", .write, EACCES),
        ("502 SITE CHMOD not implemented", .chmod, EPERM),
        ("502 Command not implemented", .utimes, ENOTSUP),
        ("421 Too many users", .stat, EAGAIN),
    ]

    @Test func rowsWithoutQuestions() throws {
        for (text, operation, expected) in Self.replyOnlyRows {
            let refusal = try reply(text)
            #expect(!FTPErrorInterview.needsFindings(operation, refusal), "\(text)")
            #expect(FTPErrorInterview.errno(operation, refusal, findings: nil) == expected, "\(text)")
        }
    }

    /// Every row of the table is tested: here, or against a server in FTPErrorTests.
    @Test func everyRowIsTested() throws {
        var tested = Set(FTPErrorTests.cases.map(\.row))
        for (text, operation, _) in Self.replyOnlyRows {
            tested.insert(try #require(FTPErrorInterview.firstRule(operation, try reply(text), findings: nil)).why)
        }
        let reasons = FTPErrorInterview.table.map(\.why)
        #expect(Set(reasons).count == reasons.count, "one reason per row")
        #expect(Set(reasons).subtracting(tested).isEmpty, "untested rows: \(Set(reasons).subtracting(tested))")
    }
}
