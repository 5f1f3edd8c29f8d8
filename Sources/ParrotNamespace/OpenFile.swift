import ParrotServices

/// One open file description of a remote file or directory, like the kernel's
/// `struct file`: descriptors made by dup and fork share it, with its offset
/// and status flags.
public final class OpenFile {
    public let service: FileService
    /// Where the file is now: a rename made through the agent moves it, as a
    /// descriptor follows its file on a local filesystem.
    public var location: RemoteLocation
    /// The service's handle; nil for directories (listed by path) and O_PATH opens.
    public let handle: ServiceHandle?
    public let isDirectory: Bool
    /// open(2) flags; F_SETFL changes the status part.
    public var flags: Int32
    /// The flags the service's handle was opened with (F_SETFL leaves it:
    /// an O_APPEND handle appends whatever the flags say now).
    public let openedFlags: Int32
    public var offset: Int64 = 0
    /// An append went to the server's end of file, which only the server
    /// knows: `offset` is to be asked for before it is used.
    public var offsetIsAtEnd = false
    /// Its name was removed, or given to another file, through the agent:
    /// what is done to it from now on concerns no name (a local copy is not
    /// written back to one).
    public var isDetached = false
    /// The server's device and inode of the file, when the open said: other
    /// names it may go by (a symbolic link opened) are told by it.
    public var identity: FileIdentity?
    /// Something was written through it: a local copy made later must fetch
    /// the file even if it was truncated when opened.
    public var hasWritten = false
    /// A directory's entries, read at the first getdents and kept until
    /// rewound, as the kernel keeps its position in a listing.
    public var listing: [DirectoryEntry]?
    /// Descriptors (in any process) that refer to this description.
    var references = 0

    /// Something besides descriptors needs the handle (a local copy made
    /// real after the file's name went writes back through it): one more
    /// reference until `unkeep`.
    public func keep() {
        references += 1
        keeps += 1
    }

    /// Ends a `keep`; true when nothing refers to the file any more, and its
    /// handle is to be closed.
    public func unkeep() -> Bool {
        references -= 1
        keeps -= 1
        return references == 0
    }

    private var keeps = 0

    /// No descriptor refers to it any more, only keeps.
    public var isOnlyKept: Bool { references > 0 && references == keeps }

    public init(service: FileService, location: RemoteLocation, handle: ServiceHandle?, isDirectory: Bool, flags: Int32) {
        self.service = service
        self.location = location
        self.handle = handle
        self.isDirectory = isDirectory
        self.flags = flags
        openedFlags = flags
    }

    /// Opened with O_PATH: names the file, moves no data.
    public var isPathOnly: Bool { flags & 0o10000000 != 0 }
    /// Opened O_PATH | O_NOFOLLOW: a symbolic link there is the file itself.
    public var isLinkItself: Bool { isPathOnly && flags & 0o400000 != 0 }
    public var accessMode: Int32 { flags & 3 }
    public var isReadable: Bool { accessMode != 1 && !isPathOnly }
    public var isWritable: Bool { accessMode != 0 && !isPathOnly }
}
