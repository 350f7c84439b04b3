test/selftests/kmod_proc: test/selftests/kmod_proc.c \
 test/selftests/kmod_util.h test/harness.h include/uapi/linux/plkv.h
test/selftests/kmod_util.h:
test/harness.h:
include/uapi/linux/plkv.h:
