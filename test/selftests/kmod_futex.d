test/selftests/kmod_futex: test/selftests/kmod_futex.c \
 test/selftests/kmod_util.h test/harness.h include/uapi/linux/plkv.h
test/selftests/kmod_util.h:
test/harness.h:
include/uapi/linux/plkv.h:
