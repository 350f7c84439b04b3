/*
 * granted_calls.h - every function outside libplkv that libplkv calls
 * (the C library's), one entry each: granted_calls.c wraps each of them
 * (the Makefile links it with ld's --wrap for every entry) to see
 * whether libplkv ever calls one with the key granted.
 */
W(__errno_location) W(__isoc99_sscanf) W(_exit) W(abort) W(access)
W(calloc) W(clock_gettime) W(close) W(closedir) W(epoll_create1)
W(epoll_ctl) W(epoll_wait) W(fchmod) W(fclose) W(fgets) W(fopen)
W(fprintf) W(free) W(fstat) W(fstatvfs) W(getenv) W(geteuid) W(getpid)
W(getrandom) W(ioctl) W(kill) W(madvise) W(malloc) W(memchr) W(memcmp)
W(memcpy) W(memmove) W(memset) W(mmap) W(mprotect) W(munmap) W(open)
W(opendir) W(pidfd_open) W(pkey_alloc) W(pkey_free) W(pkey_mprotect)
W(posix_fallocate) W(prctl) W(process_vm_readv) W(pthread_getspecific)
W(pthread_key_create) W(pthread_key_delete) W(pthread_mutex_destroy)
W(pthread_mutex_init) W(pthread_mutex_lock) W(pthread_mutex_trylock)
W(pthread_mutex_unlock) W(pthread_setspecific) W(raise) W(read)
W(readdir) W(realloc) W(sched_yield) W(setvbuf) W(shm_open)
W(shm_unlink) W(sigaltstack) W(snprintf) W(stat) W(statvfs) W(strchr)
W(strcmp) W(strerror) W(strlen) W(strncmp) W(strrchr) W(strtoull)
W(syscall) W(sysconf) W(time) W(usleep) W(vsnprintf)
