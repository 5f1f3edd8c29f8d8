#include <errno.h>
#include <openssl/evp.h>
#include <unistd.h>

#include "chirp_server_shim.h"

int chirp_digest_file(int fd, const char *algorithm, unsigned char *out, unsigned capacity) {
    const EVP_MD *md = EVP_get_digestbyname(algorithm);
    if (md == NULL || (unsigned)EVP_MD_size(md) > capacity) return -EINVAL;
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    if (context == NULL) return -ENOMEM;
    int result = 0;
    if (!EVP_DigestInit_ex(context, md, NULL)) result = -EINVAL;
    static __thread unsigned char buffer[1 << 16];
    off_t offset = 0;
    while (result == 0) {
        ssize_t n = pread(fd, buffer, sizeof buffer, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { result = -errno; break; }
        if (n == 0) break;
        EVP_DigestUpdate(context, buffer, (size_t)n);
        offset += n;
    }
    unsigned length = 0;
    if (result == 0) {
        EVP_DigestFinal_ex(context, out, &length);
        result = (int)length;
    }
    EVP_MD_CTX_free(context);
    return result;
}
