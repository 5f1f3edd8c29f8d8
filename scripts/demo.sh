#!/bin/sh
# `make demo`: real programs under the agent, with and without a mount list.
# Usage: scripts/demo.sh PATH-TO-PARROT
set -eu
parrot=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d "${TMPDIR:-/tmp}/parrot-demo.XXXXXX")
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT INT TERM

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

# The bundled Chirp server, on loopback, exporting a fresh directory.
mkdir -p "$work/export"
seq 1 100000 | awk '{ print $1 "," $1 * 3 }' > "$work/export/big.csv"
step "parrot chirp-server --root export --port 0 --port-file port &"
"$parrot" chirp-server --root "$work/export" --port 0 --port-file "$work/port" --parent-death &
server=$!
i=0
while [ ! -s "$work/port" ]; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "the server did not start" >&2; exit 1; }
    sleep 0.05
done
c=/chirp/127.0.0.1:$(cat "$work/port")
echo "serving on $c"
printf '// TODO: greet in more languages\n' >> "$work/project/hello.c"
cat > "$work/analyse.py" <<'PY'
import sys
total = sum(int(line.split(",")[1]) for line in sys.stdin)
print("sum of the second column:", total)
PY
rm -f "$work/project/hello"

step "parrot run -- sh -c 'ls -l $c/; cp -r project $c/project; cd $c/project && grep -r TODO . && make && ./hello; ...'"
(cd "$work" && "$parrot" run -- sh -c "
  ls -l $c/
  cp -r project $c/project
  cd $c/project && grep -r TODO . && make && ./hello && ls -l
  cd $work && python3 analyse.py < $c/big.csv > $c/out.txt && cat $c/out.txt")
step "ls export/project   (the server's side)"
ls "$work/export/project"
step "parrot run -- cat /chirp/127.0.0.1:1/x   (nothing listening there)"
"$parrot" run -- cat /chirp/127.0.0.1:1/x || true
