# Calls that fail on a local filesystem, each printed with the errno name it
# got (or "ok"): run natively and through the agent, the lines must match.
import errno, os, sys

d = sys.argv[1]


def probe(name, call):
    try:
        result = call()
        result = result if isinstance(result, str) else "ok"
    except OSError as e:
        result = errno.errorcode[e.errno]
    print(name, result)


def replace_nonempty():
    os.makedirs(d + "/d2/y", exist_ok=True)
    os.rename(d + "/dir", d + "/d2")


os.makedirs(d + "/dir/sub", exist_ok=True)
with open(d + "/file", "w") as f:
    f.write("x")
probe("rmdir-nonempty", lambda: os.rmdir(d + "/dir"))
probe("mkdir-exists", lambda: os.mkdir(d + "/dir"))
probe("rename-into-itself", lambda: os.rename(d + "/dir", d + "/dir/sub/x"))
probe("o-directory-on-file", lambda: os.open(d + "/file", os.O_RDONLY | os.O_DIRECTORY))
probe("unlink-dir", lambda: os.unlink(d + "/dir"))
probe("rename-file-over-dir", lambda: os.rename(d + "/file", d + "/dir"))
probe("rename-dir-over-file", lambda: os.rename(d + "/dir", d + "/file"))
probe("link-dir", lambda: os.link(d + "/dir", d + "/dirlink"))
probe("readlink-file", lambda: os.readlink(d + "/file"))
probe("truncate-dir", lambda: os.truncate(d + "/dir", 0))
probe("create-excl-existing", lambda: os.open(d + "/file", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
probe("write-open-dir", lambda: os.open(d + "/dir", os.O_WRONLY))
probe("file-as-dir", lambda: os.stat(d + "/file/x"))
probe("missing-parent", lambda: open(d + "/nope/x", "w"))
probe("rmdir-file", lambda: os.rmdir(d + "/file"))
probe("chdir-file", lambda: os.chdir(d + "/file"))
probe("listdir-file", lambda: os.listdir(d + "/file"))
probe("symlink-over-existing", lambda: os.symlink("x", d + "/file"))
probe("rename-missing", lambda: os.rename(d + "/missing", d + "/m2"))
probe("rmdir-dot", lambda: os.rmdir(d + "/dir/."))
probe("mkdir-trailing-slash-file", lambda: os.mkdir(d + "/file/"))
probe("open-trailing-slash-file", lambda: os.open(d + "/file/", os.O_RDONLY))
probe("stat-trailing-slash-file", lambda: os.stat(d + "/file/"))
probe("stat-trailing-slash-dir", lambda: os.stat(d + "/dir/"))
probe("read-dir", lambda: os.read(os.open(d + "/dir", os.O_RDONLY), 10))
os.symlink("dir", d + "/ldir")
probe("create-trailing-slash-new", lambda: os.open(d + "/new/", os.O_WRONLY | os.O_CREAT))
probe("create-trailing-slash-file", lambda: os.open(d + "/file/", os.O_WRONLY | os.O_CREAT))
probe("create-trailing-slash-missing-parent", lambda: os.open(d + "/nope/x/", os.O_WRONLY | os.O_CREAT))
probe("create-trailing-slash-under-file", lambda: os.open(d + "/file/x/", os.O_WRONLY | os.O_CREAT))
probe("unlink-trailing-slash-link", lambda: os.unlink(d + "/ldir/"))
probe("rename-file-to-slash", lambda: os.rename(d + "/file", d + "/nn/"))
probe("rename-link-slash", lambda: os.rename(d + "/ldir/", d + "/x"))
probe("rmdir-dot-slash", lambda: os.rmdir(d + "/dir/./"))
probe("readlink-trailing-slash-dir-link", lambda: os.readlink(d + "/ldir/"))
os.symlink("file", d + "/lfile")
probe("readlink-trailing-slash-file-link", lambda: os.readlink(d + "/lfile/"))
probe("symlink-new-trailing-slash", lambda: os.symlink("x", d + "/newlink/"))
probe("link-new-trailing-slash", lambda: os.link(d + "/file", d + "/newhard/"))
probe("link-source-trailing-slash", lambda: os.link(d + "/file/", d + "/newhard2"))
probe("exec-trailing-slash", lambda: os.execv(d + "/file/", ["x"]))
probe("lstat-trailing-slash-link", lambda: "dir" if os.path.stat.S_ISDIR(os.lstat(d + "/ldir/").st_mode) else "link")
probe("rename-dir-over-nonempty", replace_nonempty)
fifo = 0o600 | 0o010000  # S_IFIFO: a server cannot hold one, but what the name says comes first
probe("mknod-fifo-existing", lambda: os.mknod(d + "/file", fifo))
probe("mknod-fifo-dotdot", lambda: os.mknod(d + "/dir/sub/..", fifo))
probe("mknod-fifo-missing-parent", lambda: os.mknod(d + "/nope/x", fifo))
probe("mknod-fifo-under-file", lambda: os.mknod(d + "/file/x", fifo))
probe("mknod-directory-type", lambda: os.mknod(d + "/existing-or-not", 0o700 | 0o040000))
probe("mknod-link-type", lambda: os.mknod(d + "/file", 0o700 | 0o120000))
os.makedirs(d + "/e1/in"); os.makedirs(d + "/e2")
probe("rename-dir-over-empty", lambda: os.rename(d + "/e1", d + "/e2"))
probe("renamed-dir-kept-its-files", lambda: str(os.listdir(d + "/e2")))
import stat
probe("opath-nofollow-is-the-link", lambda: "link" if stat.S_ISLNK(os.fstat(os.open(d + "/lfile", os.O_PATH | os.O_NOFOLLOW)).st_mode) else "target")
probe("fchmod-opath", lambda: os.fchmod(os.open(d + "/file", os.O_PATH), 0o600))
probe("lchmod-file", lambda: os.chmod(d + "/file", 0o640, follow_symlinks=False))  # glibc: O_PATH, fstat, chmod /proc/self/fd/N
probe("lchmod-mode", lambda: oct(os.stat(d + "/file").st_mode & 0o777))
probe("reopen-proc-fd", lambda: os.read(os.open("/proc/self/fd/%d" % os.open(d + "/file", os.O_RDONLY), os.O_RDONLY), 10).decode())
probe("reopen-dev-fd", lambda: os.read(os.open("/dev/fd/%d" % os.open(d + "/file", os.O_RDONLY), os.O_RDONLY), 10).decode())
