/// How a syscall uses one of its path arguments.
struct PathArgument {
    enum Follow {
        case always, never
        /// The call acts on the directory entry itself (rmdir, unlink,
        /// rename): not even a trailing slash follows a last link there (the
        /// kernel answers ENOTDIR or EISDIR instead).
        case entry
        /// Follow unless this flag is set in argument `arg` (AT_SYMLINK_NOFOLLOW...).
        case unlessFlag(arg: Int, flag: UInt64)
        /// Follow only when this flag is set (linkat's AT_SYMLINK_FOLLOW).
        case ifFlag(arg: Int, flag: UInt64)
        /// open(2) flags in argument `arg`: O_NOFOLLOW, or O_CREAT|O_EXCL.
        case openFlags(arg: Int)
        /// openat2's struct open_how in argument `arg`.
        case openHow(arg: Int)
    }

    enum Use {
        case stat
        case read
        case write
        case execute
        /// Read and/or write according to open flags in argument `arg`.
        case openFlags(arg: Int)
        case openHow(arg: Int)
        /// access(2) mode bits in argument `arg`.
        case accessMode(arg: Int)
    }

    let path: Int
    /// The directory descriptor argument of an *at call.
    var dirfd: Int? = nil
    var follow: Follow = .always
    var use: Use = .stat
    /// A NULL path is valid and names dirfd (utimensat, fanotify_mark) or nothing (acct).
    var nullAllowed = false
}

/// The path syscalls the agent resolves, by name (numbers come from the policy).
enum PathSyscalls {
    static let atSymlinkNofollow: UInt64 = 0x100
    static let atSymlinkFollow: UInt64 = 0x400
    static let atEmptyPath: UInt64 = 0x1000

    private static func at(_ dirfd: Int, _ path: Int, follow: PathArgument.Follow = .always,
                           use: PathArgument.Use = .stat, null: Bool = false) -> PathArgument {
        PathArgument(path: path, dirfd: dirfd, follow: follow, use: use, nullAllowed: null)
    }
    private static func plain(_ path: Int, follow: PathArgument.Follow = .always,
                              use: PathArgument.Use = .stat, null: Bool = false) -> PathArgument {
        PathArgument(path: path, follow: follow, use: use, nullAllowed: null)
    }
    private static func nofollowFlag(_ arg: Int) -> PathArgument.Follow { .unlessFlag(arg: arg, flag: atSymlinkNofollow) }

    /// Calls after which what the host cache knows may be wrong: a name now
    /// leads elsewhere (rename), to nothing (unlink, rmdir) or over a mount.
    static let namespaceChanging: Set<String> = [
        "rename", "renameat", "renameat2", "unlink", "unlinkat", "rmdir",
        "mount", "umount2", "pivot_root", "chroot", "move_mount",
    ]

    /// Calls whose handlers keep track of what the program sees (cwd, the
    /// executable, /proc links): never passed on a quick look.
    static let tracked: Set<String> = ["chdir", "readlink", "readlinkat", "execve", "execveat"]

    static let table: [String: [PathArgument]] = [
        "open": [plain(0, follow: .openFlags(arg: 1), use: .openFlags(arg: 1))],
        "openat": [at(0, 1, follow: .openFlags(arg: 2), use: .openFlags(arg: 2))],
        "openat2": [at(0, 1, follow: .openHow(arg: 2), use: .openHow(arg: 2))],
        "creat": [plain(0, use: .write)],
        "stat": [plain(0)],
        "lstat": [plain(0, follow: .never)],
        "newfstatat": [at(0, 1, follow: nofollowFlag(3))],
        "statx": [at(0, 1, follow: nofollowFlag(2))],
        "access": [plain(0, use: .accessMode(arg: 1))],
        "faccessat": [at(0, 1, use: .accessMode(arg: 2))],
        "faccessat2": [at(0, 1, follow: nofollowFlag(3), use: .accessMode(arg: 2))],
        "readlink": [plain(0, follow: .never, use: .read)],
        "readlinkat": [at(0, 1, follow: .never, use: .read)],
        "execve": [plain(0, use: .execute)],
        "execveat": [at(0, 1, follow: nofollowFlag(4), use: .execute)],
        "truncate": [plain(0, use: .write)],
        "chdir": [plain(0)],
        "chroot": [plain(0)],
        "rename": [plain(0, follow: .entry, use: .write), plain(1, follow: .entry, use: .write)],
        "renameat": [at(0, 1, follow: .entry, use: .write), at(2, 3, follow: .entry, use: .write)],
        "renameat2": [at(0, 1, follow: .entry, use: .write), at(2, 3, follow: .entry, use: .write)],
        "mkdir": [plain(0, follow: .never, use: .write)],
        "mkdirat": [at(0, 1, follow: .never, use: .write)],
        "rmdir": [plain(0, follow: .entry, use: .write)],
        "link": [plain(0, follow: .never), plain(1, follow: .never, use: .write)],
        "linkat": [at(0, 1, follow: .ifFlag(arg: 4, flag: atSymlinkFollow)),
                   at(2, 3, follow: .never, use: .write)],
        "unlink": [plain(0, follow: .entry, use: .write)],
        "unlinkat": [at(0, 1, follow: .entry, use: .write)],
        "symlink": [plain(1, follow: .never, use: .write)],
        "symlinkat": [at(1, 2, follow: .never, use: .write)],
        "chmod": [plain(0, use: .write)],
        "fchmodat": [at(0, 1, use: .write)],
        "fchmodat2": [at(0, 1, follow: nofollowFlag(3), use: .write)],
        "chown": [plain(0, use: .write)],
        "lchown": [plain(0, follow: .never, use: .write)],
        "fchownat": [at(0, 1, follow: nofollowFlag(4), use: .write)],
        "utime": [plain(0, use: .write)],
        "utimes": [plain(0, use: .write)],
        "futimesat": [at(0, 1, use: .write, null: true)],
        "utimensat": [at(0, 1, follow: nofollowFlag(3), use: .write, null: true)],
        "mknod": [plain(0, follow: .never, use: .write)],
        "mknodat": [at(0, 1, follow: .never, use: .write)],
        "uselib": [plain(0, use: .read)],
        "statfs": [plain(0)],
        "pivot_root": [plain(0), plain(1)],
        "acct": [plain(0, use: .write, null: true)],
        "mount": [plain(1)],
        "umount2": [plain(0, follow: .unlessFlag(arg: 1, flag: 0x8))],
        "swapon": [plain(0)],
        "swapoff": [plain(0)],
        "setxattr": [plain(0, use: .write)],
        "lsetxattr": [plain(0, follow: .never, use: .write)],
        "getxattr": [plain(0, use: .read)],
        "lgetxattr": [plain(0, follow: .never, use: .read)],
        "listxattr": [plain(0, use: .read)],
        "llistxattr": [plain(0, follow: .never, use: .read)],
        "removexattr": [plain(0, use: .write)],
        "lremovexattr": [plain(0, follow: .never, use: .write)],
        "setxattrat": [at(0, 1, follow: nofollowFlag(2), use: .write)],
        "getxattrat": [at(0, 1, follow: nofollowFlag(2), use: .read)],
        "listxattrat": [at(0, 1, follow: nofollowFlag(2), use: .read)],
        "removexattrat": [at(0, 1, follow: nofollowFlag(2), use: .write)],
        "inotify_add_watch": [plain(1, follow: .unlessFlag(arg: 2, flag: 0x0200_0000))],
        "fanotify_mark": [at(3, 4, follow: .unlessFlag(arg: 1, flag: 0x4), null: true)],
        "name_to_handle_at": [at(0, 1, follow: .ifFlag(arg: 4, flag: atSymlinkFollow))],
        "quotactl": [plain(1, null: true)],
        "open_tree": [at(0, 1, follow: nofollowFlag(2))],
        "open_tree_attr": [at(0, 1, follow: nofollowFlag(2))],
        "move_mount": [at(0, 1), at(2, 3)],
        "fspick": [at(0, 1)],
        "mount_setattr": [at(0, 1, follow: nofollowFlag(2))],
        "file_getattr": [at(0, 1, follow: nofollowFlag(4), use: .read)],
        "file_setattr": [at(0, 1, follow: nofollowFlag(4), use: .write)],
    ]
}
