import Testing
import ParrotServices
@testable import ParrotCache

/// The meta file that says a cache entry is valid: parsed off the bytes on
/// every open of a cached file.
@Suite struct CacheMetaTests {
    func parse(_ text: String) -> WholeFileCache.Meta? {
        Array(text.utf8).withUnsafeBytes { WholeFileCache.parseMeta($0) }
    }

    @Test func readsWhatIsWritten() {
        #expect(parse("parrot-cache 1\nchirp/h:9094/a b\n8192 1700000000 5\n\"etag-1\"\n")
                == WholeFileCache.Meta(key: "chirp/h:9094/a b", size: 8192,
                                       mtime: Timestamp(seconds: 1_700_000_000, nanoseconds: 5), version: "\"etag-1\""))
        #expect(parse("parrot-cache 1\nk\n0 -5 0\n\n")
                == WholeFileCache.Meta(key: "k", size: 0, mtime: Timestamp(seconds: -5, nanoseconds: 0), version: nil))
        #expect(parse("parrot-cache 1\nk\n1 2 3\n")?.version == nil)
        #expect(parse("parrot-cache 1\nk\n1 2 3 77\n\n")?.inode == 77)
        #expect(parse("parrot-cache 1\nk\n1 2 3\n\n")?.inode == nil)
        #expect(parse("parrot-cache 1\nk\n1 2 3 77\n\nchirp/h:9094#5:77\n")?.linked == "chirp/h:9094#5:77")
        #expect(parse("parrot-cache 1\nk\n1 2 3 77\n\n\n")?.linked == nil)
    }

    @Test func refusesAnythingElse() {
        for text in ["", "parrot-cache 2\nk\n1 2 3\n\n", "parrot-cache 1\nk\n1 2\n\n", "parrot-cache 1\nk\n1 2 x\n\n",
                     "parrot-cache 1\nk\n1 2 3 4 5\n\n", "parrot-cache 1\nk", "parrot-cache 1\nk\n1 2 3"] {
            #expect(parse(text) == nil, "\(text.debugDescription)")
        }
    }
}
