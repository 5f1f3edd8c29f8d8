"""pyftpdlib on 127.0.0.1 for the FTP driver's tests.

usage: ftpserver.py ROOT PORTFILE [--tls CERT KEY]

Users (home ROOT unless said): anonymous (may do everything), alice/secret
(everything), reader/readonly (list and read only), full/full (writes past
64 KiB of a file fail with ENOSPC), quota/quota (EDQUOT likewise).
pyftpdlib 1.5.7 answers every failed write "426 None; transfer aborted."
(it loses the errno); this server answers a full disk and a quota with
RFC 959's codes instead: 452, and 552 naming the quota.
Reading a file whose name ends in ".cut" ends the whole server half way.
"""
import errno, os, signal, sys, threading, time
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import FTPHandler, _FileReadWriteError
from pyftpdlib.servers import FTPServer

LIMIT = 64 << 10


class LimitedFile:
    def __init__(self, file, code):
        self.file, self.code, self.written = file, code, 0

    def write(self, data):
        self.written += len(data)
        if self.written > LIMIT:
            raise OSError(self.code, os.strerror(self.code))
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)


class CutFile:
    def __init__(self, file):
        self.file, self.size = file, os.fstat(file.fileno()).st_size

    def read(self, count):
        if self.file.tell() >= self.size // 2:
            os._exit(3)
        return self.file.read(min(count, max(1, self.size // 2 - self.file.tell())))

    def __getattr__(self, name):
        return getattr(self.file, name)


STORAGE_REPLIES = {errno.ENOSPC: "452 Insufficient storage space in system.",
                   errno.EDQUOT: "552 Exceeded storage allocation (disk quota exceeded)."}


def rfc_storage_replies(dtp_handler):
    class RFCDTPHandler(dtp_handler):
        def handle_error(self):
            error = sys.exc_info()[1]
            cause = error.args[0] if isinstance(error, _FileReadWriteError) and error.args else None
            reply = STORAGE_REPLIES.get(getattr(cause, "errno", None))
            if reply is None:
                return super().handle_error()
            self._resp = (reply, print)
            self.close()
    return RFCDTPHandler


class TestFS(AbstractedFS):
    def open(self, filename, mode):
        file = super().open(filename, mode)
        user = self.cmd_channel.username
        if "w" in mode or "a" in mode or "+" in mode:
            if user == "full":
                return LimitedFile(file, errno.ENOSPC)
            if user == "quota":
                return LimitedFile(file, errno.EDQUOT)
        if "r" in mode and filename.endswith(".cut"):
            return CutFile(file)
        return file


def main():
    root, portfile = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    authorizer = DummyAuthorizer()
    everything = "elradfmwMT"
    authorizer.add_anonymous(root, perm=everything)
    authorizer.add_user("alice", "secret", root, perm=everything)
    authorizer.add_user("reader", "readonly", root, perm="elr")
    authorizer.add_user("full", "full", root, perm=everything)
    authorizer.add_user("quota", "quota", root, perm=everything)
    handler = FTPHandler
    if "--tls" in args:
        from pyftpdlib.handlers import TLS_FTPHandler
        at = args.index("--tls")
        handler = TLS_FTPHandler
        handler.certfile, handler.keyfile = args[at + 1], args[at + 2]
        handler.tls_control_required = True
        handler.tls_data_required = True
    handler.authorizer = authorizer
    handler.dtp_handler = rfc_storage_replies(handler.dtp_handler)
    handler.abstracted_fs = TestFS
    handler.auth_failed_timeout = 0.05
    handler.use_sendfile = False  # reads go through TestFS's files
    handler.banner = "parrot test server"
    server = FTPServer(("127.0.0.1", 0), handler)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(server.socket.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    parent = os.getppid()

    def watch_parent():  # a test runner that dies takes its servers along
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    server.serve_forever(handle_exit=False)


if __name__ == "__main__":
    # The test runner's blocked signals would be blocked here too.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    import logging
    logging.basicConfig(level=logging.WARNING)
    main()
