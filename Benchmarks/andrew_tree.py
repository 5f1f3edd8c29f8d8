"""The source tree of the Andrew-like benchmark (Figure 5.3), generated.

`generate(root, scale)` writes, deterministically (a fixed seed; the same bytes
on every machine and every run), a C project of about 13 directories, 300 files
and 1 MB of C at scale 1.0:

    include/            common.h (inline helpers, types), config.h
    lib0 .. lib7/       one static library each: libN.h, ~33 .c files, libN_all.c
    app0 .. app2/       one executable each (main.c, a few helpers)
    Makefile            objects, 8 libraries (ar rcs), 3 executables; `make check` runs them

The code is valid C99 (unsigned arithmetic only, so no undefined behaviour and
the same output at every optimisation level); every function is reachable and
every program prints checksums of everything it links, so a wrong byte anywhere
in a copied or compiled file changes what the programs print. Smaller scales
(`--quick`) keep the layout and make fewer, smaller files.
"""

import random
from pathlib import Path

SEED = 20250531
LIBS = 8
APPS = 3
TAGS = ["alpha", "beta", "gamma", "delta", "epsilon"]
# Which libraries each program links (app2 links them all).
APP_LIBS = [[0, 1, 2, 3], [4, 5, 6, 7], list(range(LIBS))]

COMMON_H = """\
/* include/common.h: helpers shared by every library. Generated; do not edit. */
#ifndef ANDREW_COMMON_H
#define ANDREW_COMMON_H

#include <stddef.h>
#include "config.h"

typedef unsigned int u32;

struct andrew_state {
    u32 acc;
    u32 round;
    u32 table[ANDREW_TABLE];
};

static inline u32 andrew_rotl(u32 x, unsigned n)
{
    n &= 31u;
    return n ? (x << n) | (x >> (32u - n)) : x;
}

static inline u32 andrew_mix(u32 a, u32 b)
{
    a ^= b * 0x9e3779b9u;
    a = andrew_rotl(a, 13) * 5u + 0xe6546b64u;
    return a ^ (a >> 16);
}

static inline void andrew_state_init(struct andrew_state *s, u32 seed)
{
    unsigned i;
    s->acc = seed;
    s->round = 0;
    for (i = 0; i < ANDREW_TABLE; i++)
        s->table[i] = andrew_mix(seed, i);
}

static inline u32 andrew_state_step(struct andrew_state *s, u32 v)
{
    u32 slot = (s->acc ^ v) % ANDREW_TABLE;
    s->table[slot] = andrew_mix(s->table[slot], v);
    s->acc = andrew_mix(s->acc, s->table[slot]);
    s->round++;
    return s->acc;
}

#endif
"""

CONFIG_H = """\
/* include/config.h. Generated; do not edit. */
#ifndef ANDREW_CONFIG_H
#define ANDREW_CONFIG_H
#define ANDREW_TABLE 16u
#define ANDREW_VERSION "andrew-1"
#endif
"""


class Gen:
    def __init__(self, scale):
        self.r = random.Random(SEED)
        self.scale = scale
        # Per library: files and functions per file. At 1.0: 8 x 33 files of 4 functions.
        self.files_per_lib = max(2, round(33 * scale))
        self.funcs_per_file = 4 if scale >= 0.5 else 3

    def expr(self, depth, names):
        r = self.r
        if depth <= 0 or r.random() < 0.3:
            if r.random() < 0.5:
                return r.choice(names)
            return f"{r.randrange(1, 1 << 31)}u"
        op = r.choice(["+", "^", "*", "|", "&", "-"])
        a, b = self.expr(depth - 1, names), self.expr(depth - 1, names)
        if r.random() < 0.25:
            return f"andrew_mix({a}, {b})"
        if r.random() < 0.2:
            return f"andrew_rotl({a}, {r.randrange(1, 31)})"
        return f"({a} {op} {b})"

    def function(self, name, callees, tag):
        """One function of about 700 bytes: loops, a switch, an array, calls."""
        r = self.r
        n = r.randrange(8, 24)
        cases = r.randrange(3, 7)
        lines = [f"/* {name}: tag: {tag} */", f"u32 {name}(u32 x)", "{",
                 f"    u32 acc = {r.randrange(1 << 32)}u, t[{n}];",
                 "    unsigned i;",
                 f"    for (i = 0; i < {n}u; i++)",
                 f"        t[i] = {self.expr(2, ['x', 'i', 'acc'])};",
                 f"    for (i = 0; i < {r.randrange(16, 64)}u; i++) {{",
                 f"        switch ((x + i) % {cases}u) {{"]
        for c in range(cases):
            lines.append(f"        case {c}:")
            lines.append(f"            acc = {self.expr(3, ['acc', 'x', f't[i % {n}u]', 'i'])};")
            if r.random() < 0.4:
                lines.append(f"            if (acc & {1 << r.randrange(0, 31)}u)")
                lines.append(f"                t[(i + {c}u) % {n}u] ^= acc;")
            lines.append("            break;")
        lines += ["        default:", "            acc = andrew_rotl(acc, i);", "        }", "    }"]
        for callee in callees:
            lines.append(f"    acc = andrew_mix(acc, {callee}(acc ^ x));")
        lines += ["    return acc;", "}", ""]
        return "\n".join(lines)

    def library(self, lib):
        """Returns {relative path: text} for one library directory."""
        files, names = {}, []
        d = f"lib{lib}"
        for f in range(self.files_per_lib):
            fnames = [f"lib{lib}_f{f}_{k}" for k in range(self.funcs_per_file)]
            body = [f"/* {d}/unit{f}.c. Generated; do not edit. */", '#include "common.h"',
                    f'#include "lib{lib}.h"', ""]
            for k, fn in enumerate(fnames):
                # Call one or two functions defined earlier in this library (no recursion).
                earlier = names + fnames[:k]
                callees = self.r.sample(earlier, min(len(earlier), self.r.randrange(0, 3)))
                body.append(self.function(fn, callees, self.r.choice(TAGS)))
            names += fnames
            files[f"{d}/unit{f}.c"] = "\n".join(body)
        guard = f"ANDREW_LIB{lib}_H"
        header = [f"/* {d}/lib{lib}.h. Generated; do not edit. */", f"#ifndef {guard}", f"#define {guard}",
                  '#include "common.h"']
        header += [f"u32 {n}(u32 x);" for n in names]
        header += [f"u32 lib{lib}_all(struct andrew_state *s);", "#endif", ""]
        files[f"{d}/lib{lib}.h"] = "\n".join(header)
        entry = [f"/* {d}/all.c. Generated; do not edit. */", '#include "common.h"', f'#include "lib{lib}.h"', "",
                 f"u32 lib{lib}_all(struct andrew_state *s)", "{"]
        entry += [f"    andrew_state_step(s, {n}(s->acc));" for n in names]
        entry += ["    return s->acc;", "}", ""]
        files[f"{d}/all.c"] = "\n".join(entry)
        return files

    def app(self, a):
        libs = APP_LIBS[a]
        d = f"app{a}"
        files = {}
        helpers = []
        for h in range(3):
            name = f"app{a}_helper{h}"
            helpers.append(name)
            files[f"{d}/helper{h}.c"] = "\n".join([
                f"/* {d}/helper{h}.c. Generated; do not edit. */", '#include "common.h"', ""]
                + [f"u32 {e}(u32 x);" for e in helpers[:h]]
                + ["", self.function(name, helpers[:h], self.r.choice(TAGS))])
        main = [f"/* {d}/main.c. Generated; do not edit. */", "#include <stdio.h>", '#include "common.h"']
        main += [f'#include "lib{l}.h"' for l in libs]
        main += [f"u32 {h}(u32 x);" for h in helpers]
        main += ["", "int main(void)", "{", "    struct andrew_state s;", "    u32 total = 0;", "    unsigned r;",
                 f'    printf("app{a} %s\\n", ANDREW_VERSION);',
                 "    for (r = 0; r < 3u; r++) {",
                 f"        andrew_state_init(&s, {a + 1}u * 1000u + r);"]
        for l in libs:
            main.append(f'        printf("round %u lib{l} %08x\\n", r, lib{l}_all(&s));')
        for h in helpers:
            main.append(f"        total = andrew_mix(total, {h}(s.acc));")
        main += ["        total = andrew_mix(total, s.acc);", "    }",
                 f'    printf("app{a} total %08x\\n", total);', "    return 0;", "}", ""]
        files[f"{d}/main.c"] = "\n".join(main)
        return files

    def makefile(self, tree):
        out = ["# Generated by Benchmarks/andrew_tree.py; do not edit.",
               "CC = cc", "CFLAGS = -O0 -Iinclude " + " ".join(f"-Ilib{l}" for l in range(LIBS)), "AR = ar", "",
               "LIBS = " + " ".join(f"lib{l}/lib{l}.a" for l in range(LIBS)),
               "APPS = " + " ".join(f"app{a}/app{a}" for a in range(APPS)), "",
               "all: $(APPS)", ""]
        for l in range(LIBS):
            objs = sorted(p[:-2] + ".o" for p in tree if p.startswith(f"lib{l}/") and p.endswith(".c"))
            out += [f"LIB{l}_OBJS = " + " ".join(objs),
                    f"lib{l}/lib{l}.a: $(LIB{l}_OBJS)", "\trm -f $@", "\t$(AR) rcs $@ $^",
                    f"$(LIB{l}_OBJS): include/common.h include/config.h lib{l}/lib{l}.h", ""]
        for a in range(APPS):
            objs = sorted(p[:-2] + ".o" for p in tree if p.startswith(f"app{a}/") and p.endswith(".c"))
            libs = " ".join(f"lib{l}/lib{l}.a" for l in APP_LIBS[a])
            out += [f"APP{a}_OBJS = " + " ".join(objs),
                    f"app{a}/app{a}: $(APP{a}_OBJS) {libs}", f"\t$(CC) -o $@ $(APP{a}_OBJS) {libs}",
                    f"$(APP{a}_OBJS): include/common.h include/config.h " +
                    " ".join(f"lib{l}/lib{l}.h" for l in APP_LIBS[a]), ""]
        out += ["%.o: %.c", "\t$(CC) $(CFLAGS) -c -o $@ $<", "",
                "check: $(APPS)", "\tfor p in $(APPS); do ./$$p || exit 1; done", "",
                "clean:", "\trm -f */*.o $(LIBS) $(APPS)", "",
                ".PHONY: all check clean", ""]
        return "\n".join(out)


def generate(root, scale=1.0):
    """Writes the tree under root (which must not exist); returns (dirs, files, bytes of C)."""
    g = Gen(scale)
    tree = {"include/common.h": COMMON_H, "include/config.h": CONFIG_H}
    for lib in range(LIBS):
        tree.update(g.library(lib))
    for a in range(APPS):
        tree.update(g.app(a))
    tree["Makefile"] = g.makefile(tree)
    tree["README"] = ("Generated by Parrot's Benchmarks/andrew_tree.py for the Andrew-like benchmark.\n"
                      "make builds 8 static libraries and 3 programs; make check runs the programs.\n")
    root = Path(root)
    root.mkdir(parents=True)
    for rel, text in sorted(tree.items()):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    dirs = 1 + len({str(Path(rel).parent) for rel in tree if "/" in rel})
    c_bytes = sum(len(t.encode()) for rel, t in tree.items() if rel.endswith((".c", ".h")))
    return dirs, len(tree), c_bytes
