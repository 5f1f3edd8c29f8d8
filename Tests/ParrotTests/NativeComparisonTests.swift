import Foundation
import Testing

/// Real programs under the agent (no mount list) give the same output, exit
/// status and files as natively.
@Suite(.serialized) struct NativeComparisonTests {
    static let scenarios: [Scenario] = [
        Scenario(name: "bash pipelines, subshells, redirections", script: """
            set -u
            for i in 3 1 2; do echo "line $i"; done | sort -r > sorted.txt
            (mkdir -p sub && cd sub && echo inner > f && pwd)
            { echo out; echo err >&2; } > both.out 2> both.err
            cat sorted.txt | wc -l; echo "$(cat sub/f)-$(basename "$PWD")"
            exec 3> fd3.txt; echo via-fd3 >&3; exec 3>&-
            x=$(echo nested $(echo deeper)); echo "$x"
            read -r first < sorted.txt; echo "first=$first"
            false || echo "or-branch"; ( exit 4 ); echo "subshell=$?"
            exit 7
            """),
        Scenario(name: "coreutils", setup: "mkdir -p a/b/c && printf 'data\\n' > a/b/c/f && printf 'x%.0s' $(seq 5000) > a/big", script: """
            cp -a a a2 && mv a2 a3 && ln -s a3/b/c/f link && ln -s missing dangling
            chmod 640 a3/b/c/f && touch -d '2020-01-02 03:04:05' a3/b/c/f
            stat -c '%n %s %a %F %Y' a3/b/c/f; stat -c '%n %s %a %F' link dangling
            stat -L -c '%n %s' link
            ls -lR --time-style=+%Y a3 | sed 's/ [0-9]* root root / /'
            find . -name '*' | LC_ALL=C sort
            du -a a | sort -k2; du -sb a3
            readlink link; readlink -f link | sed "s|$PWD|.|"
            rm -r a3; ls; test -e a3 || echo gone
            mkdir -p deep/er/still && rmdir -p deep/er/still 2>&1; ls
            cat link 2>&1; echo "cat status $?"
            mv a/big a/big2 && cp a/big2 copied && cmp a/big2 copied && echo same
            """),
        Scenario(name: "tar and gzip", setup: "mkdir -p src/x && for i in 1 2 3; do seq 1 $((i*1000)) > src/x/f$i; done && ln -s f1 src/x/l && find src -exec touch -h -d @1600000000 {} +", script: """
            tar czf t.tgz src && mkdir out && tar xzf t.tgz -C out && diff -r src out/src && echo same
            tar tzf t.tgz | LC_ALL=C sort
            gzip -n -k src/x/f3 && gunzip -c src/x/f3.gz | md5sum && ls src/x
            gzip -t src/x/f3.gz && echo intact
            tar cf - src | tar xf - -C out --transform s/src/copy/ && ls out
            """),
        Scenario(name: "grep sed awk", setup: "mkdir -p t/u && printf 'alpha TODO one\\nbeta\\nTODO gamma\\n' > t/a && printf 'TODO delta\\n' > t/u/b", script: """
            grep -rn TODO t | LC_ALL=C sort
            grep -rl TODO . | LC_ALL=C sort; grep -c beta t/a
            sed -i 's/TODO/DONE/g' t/a && cat t/a
            awk '{ n += length($0) } END { print NR, n }' t/a t/u/b
            seq 1 100 | awk '$1 % 7 == 0' | paste -sd, -
            sed -n '2p' t/a > second && cat second
            grep -q nothing t/a; echo "grep miss $?"
            """),
        Scenario(name: "make -j2 with cc", setup: """
            mkdir -p proj && cd proj
            printf '#include "lib.h"\\n#include <stdio.h>\\nint main(void){printf("%%d %%s\\\\n", add(2,3), name());return 0;}\\n' > main.c
            printf 'int add(int a,int b){return a+b;}\\n' > add.c
            printf 'const char *name(void){return "parrot";}\\n' > name.c
            printf 'int add(int,int);\\nconst char *name(void);\\n' > lib.h
            printf 'hello: main.o add.o name.o\\n\\tcc -o $@ $^\\n%%.o: %%.c lib.h\\n\\tcc -O1 -c $<\\nclean:\\n\\trm -f *.o hello\\n' > Makefile
            """, script: """
            cd proj && make -j2 -s && ./hello && make -s && echo "up to date: $?"
            touch -d '2000-01-01' hello && make -s -j2 && ./hello
            make -s clean && ls
            """),
        Scenario(name: "python3 threads and subprocess", script: #"""
            python3 - <<'EOF'
            import os, subprocess, threading, sys
            def work(i):
                for j in range(30):
                    p = f"t{i}.txt"
                    with open(p, "w") as f: f.write(str(j) * 50)
                    with open(p) as f: assert f.read() == str(j) * 50
                    os.rename(p, p + ".bak"); os.unlink(p + ".bak")
            ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
            [t.start() for t in ts]; [t.join() for t in ts]
            r = subprocess.run(["sh", "-c", "echo from child; exit 3"], capture_output=True, text=True)
            print(r.returncode, r.stdout.strip())
            print(subprocess.check_output(["ls", "-a"], text=True).split())
            os.makedirs("a/b", exist_ok=True); os.symlink("a/b", "lnk")
            print(os.path.realpath("lnk") == os.path.join(os.getcwd(), "a/b"), os.getcwd() == os.environ["PWD"])
            os.chdir("lnk"); print(os.path.basename(os.getcwd())); os.chdir("../..")
            sys.exit(5)
            EOF
            """#),
        Scenario(name: "perl", setup: "printf 'k1=v1\\nk2=v2\\n' > conf", script: #"""
            perl -e 'open(my $f, "<", "conf") or die; my %h = map { chomp; split /=/ } <$f>;
                     print join(",", map { "$_:$h{$_}" } sort keys %h), "\n";
                     opendir(my $d, ".") or die; print join(" ", sort grep { !/^\./ } readdir $d), "\n";
                     mkdir "pd" or die; open(my $o, ">", "pd/out") or die; print $o "written\n"; close $o;
                     rename "pd/out", "pd/moved" or die; print -s "pd/moved", "\n"; exit 2'
            """#),
        Scenario(name: "git init, add, commit, log", setup: "mkdir repo && printf 'one\\n' > repo/a && mkdir repo/d && printf 'two\\n' > repo/d/b", script: """
            export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid
            export GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z' HOME=$PWD
            cd repo && git init -q -b main . && git add -A && git commit -qm first
            echo three >> a && git commit -qam second && git log --format='%H %s' && git status --short
            git mv d/b d/c && git commit -qm rename && git log --stat --format=%s | cat
            git gc -q 2>/dev/null; git fsck --no-progress && echo fsck-ok
            """, ignoredFiles: [".git/index"]),
        Scenario(name: "exit by signal", script: """
            { sh -c 'kill -TERM $$'; } 2>/dev/null; echo "status $?"
            { sh -c 'kill -SEGV $$'; } 2>/dev/null; echo "status $?"
            kill -KILL $$
            """),
    ]

    @Test(arguments: scenarios)
    func sameAsNative(_ scenario: Scenario) {
        Comparison.expectIdentical(Comparison.run(scenario))
    }
}

/// Compiled programs: a static binary (no loader, raw syscalls) and a threaded
/// one whose threads each create, write, read and unlink files.
@Suite struct CompiledProgramTests {
    @Test func staticBinary() {
        let binary = Fixture.binary("static", flags: ["-static"])
        let check = Command.run(["/usr/bin/file", binary])
        #expect(check.stdout.contains("statically linked") || check.status != 0)
        Comparison.expectIdentical(Comparison.run(Scenario(name: "static", script: "\(binary); echo \"exit $?\"")))
    }

    @Test func threadsCreateWriteReadUnlink() {
        let binary = Fixture.binary("threads", flags: ["-pthread"])
        let pair = Comparison.run(Scenario(name: "threads", script: "\(binary) && ls"))
        Comparison.expectIdentical(pair)
        #expect(pair.traced.stdout.contains("6 threads, 0 failures"))
    }
}
