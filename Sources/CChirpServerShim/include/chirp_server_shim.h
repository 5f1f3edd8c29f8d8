#ifndef CHIRP_SERVER_SHIM_H
#define CHIRP_SERVER_SHIM_H

// What the Chirp server needs and Swift cannot express: the variadic
// syscall(2), and headers Swift's Glibc module leaves out.
#include <sys/vfs.h>

/// openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: opens `path`
/// relative to `dirfd` and fails with EXDEV if resolving it (`..`, an
/// absolute symlink, a symlink leading out) would leave `dirfd`.
/// Returns the fd, or -errno.
int chirp_open_beneath(int dirfd, const char *path, int flags, unsigned mode);

/// The digest named `algorithm` ("md5", "sha1", ...; OpenSSL's names) of
/// everything `fd` holds from offset 0. Writes at most `capacity` bytes to
/// `out`. Returns the digest length, or -errno (EINVAL: unknown algorithm).
int chirp_digest_file(int fd, const char *algorithm, unsigned char *out, unsigned capacity);

#endif
