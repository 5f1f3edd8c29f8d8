"""pyftpdlib on 127.0.0.1 for the benchmarks: one user with every right.

usage: /usr/bin/python3 ftp_server.py ROOT PORTFILE USER PASSWORD

Writes the port it listens on (chosen by the kernel) to PORTFILE and serves
until killed. Debian's python3-pyftpdlib is in /usr/bin/python3.
"""
import logging
import os
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    root, portfile, user, password = sys.argv[1:5]
    logging.basicConfig(level=logging.WARNING)
    authorizer = DummyAuthorizer()
    authorizer.add_user(user, password, root, perm="elradfmwMT")
    handler = FTPHandler
    handler.authorizer = authorizer
    handler.banner = "benchmark server"
    server = FTPServer(("127.0.0.1", 0), handler)
    server.max_cons = 256
    with open(portfile + ".tmp", "w") as f:
        f.write(str(server.socket.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    server.serve_forever()


if __name__ == "__main__":
    main()
