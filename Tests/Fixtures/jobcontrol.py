# Drives an interactive bash under the agent through a pseudo-terminal:
# a foreground job is stopped with Ctrl-Z, listed, resumed with fg, and ended.
# Usage: python3 jobcontrol.py PARROT
import os, pty, select, sys, time

parrot = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.environ["PS1"] = "$ "
    os.execv(parrot, [parrot, "run", "--", "/bin/bash", "--norc", "--noprofile", "-i"])

seen = b""
def expect(needle, timeout=10):
    global seen
    deadline = time.time() + timeout
    while needle.encode() not in seen:
        left = deadline - time.time()
        if left <= 0:
            sys.stdout.write("TIMEOUT waiting for %r; got:\n%s\n" % (needle, seen.decode(errors="replace")))
            os.kill(pid, 9)
            sys.exit(2)
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    at = seen.index(needle.encode()) + len(needle)
    seen = seen[at:]

def send(text):
    os.write(fd, text.encode())

expect("$ ")
send("cat\n")
time.sleep(0.5)
send("\x1a")                    # Ctrl-Z
expect("Stopped")
print("stopped")
expect("$ ")
send("jobs\n")
expect("cat")
print("listed")
expect("$ ")
send("fg\n")
time.sleep(0.5)
send("resumed\n")
expect("resumed\r\n")           # echo by the tty
expect("resumed")               # cat's copy
print("resumed")
send("\x04")                    # Ctrl-D ends cat
expect("$ ")
send("echo status $?\n")
expect("status 0")
print("status 0")
send("exit 3\n")
_, status = os.waitpid(pid, 0)
print("exit", os.waitstatus_to_exitcode(status))
