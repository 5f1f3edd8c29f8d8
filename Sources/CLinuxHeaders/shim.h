// Linux headers that Swift's Glibc module leaves out. Declarations only.
#include <sys/vfs.h>
#include <linux/stat.h>
