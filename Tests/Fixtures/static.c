// Built with -static: no dynamic loader, raw glibc syscalls.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return 10;
    mkdir("sdir", 0755);
    FILE *f = fopen("sdir/file", "w");
    if (!f) return 11;
    fprintf(f, "static %d\n", 42);
    fclose(f);
    struct stat st;
    if (stat("sdir/file", &st) < 0) return 12;
    printf("size %lld mode %o\n", (long long)st.st_size, st.st_mode & 0777);
    DIR *d = opendir("sdir");
    struct dirent *e;
    int entries = 0;
    while ((e = readdir(d))) entries++;
    closedir(d);
    printf("entries %d\n", entries);
    pid_t child = fork();
    if (child == 0) { execl("/bin/echo", "echo", "child says hi", (char *)NULL); _exit(99); }
    int status;
    waitpid(child, &status, 0);
    printf("child %d\n", WEXITSTATUS(status));
    printf("cwd ends %s\n", strrchr(cwd, '/'));
    return 3;
}
