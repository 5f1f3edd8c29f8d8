#!/bin/sh
# `make demo`: real programs under the agent, with and without a mount list.
# Usage: scripts/demo.sh PATH-TO-PARROT
set -eu
parrot=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d "${TMPDIR:-/tmp}/parrot-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step "parrot run -- sh -c 'ls -l /usr/bin | wc -l'"
"$parrot" run -- sh -c 'ls -l /usr/bin | wc -l'

# A small C project in a host directory, seen by the program as /data.
mkdir -p "$work/project"
cat > "$work/project/hello.c" <<'C'
#include <stdio.h>
int main(void) { puts("hello from /data"); return 0; }
C
printf 'hello: hello.c\n\tcc -o hello hello.c\n' > "$work/project/Makefile"

step "parrot run -M /data=$work/project -- sh -c 'cd /data && make && ./hello && pwd'"
"$parrot" run -M "/data=$work/project" -- sh -c 'cd /data && make && ./hello && pwd'

cat > "$work/mounts.txt" <<M
# PREFIX      REDIRECT          MODE
/data         $work/project     rx
/secret       DENY
M
cat > "$work/job.py" <<'PY'
import os
print("files in /data:", sorted(os.listdir("/data")))
print("hello is", os.path.getsize("/data/hello"), "bytes")
for path in ("/data/new.txt", "/secret/key"):
    try:
        open(path, "w").write("x")
    except OSError as e:
        print(path, "->", e.strerror)
PY
step "cat mounts.txt"; cat "$work/mounts.txt"
step "parrot run -m mounts.txt -- python3 job.py"
(cd "$work" && "$parrot" run -m mounts.txt -- python3 job.py)

step "parrot run -d syscall -- cat /data/hello.c   (each trapped call, its arguments and result)"
"$parrot" run -M "/data=$work/project" -d syscall -o "$work/log" -- cat /data/hello.c > /dev/null
grep -E 'openat\(AT_FDCWD, "/data' "$work/log" || true

step "parrot filter --summary"
"$parrot" filter --summary
echo
echo "Remote services (/chirp/host:port/...) and the bundled Chirp server come with the Chirp issue."
