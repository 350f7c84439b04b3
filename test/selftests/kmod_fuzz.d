test/selftests/kmod_fuzz: test/selftests/kmod_fuzz.c \
 test/selftests/kmod_util.h test/harness.h include/uapi/linux/plkv.h
test/selftests/kmod_util.h:
test/harness.h:
include/uapi/linux/plkv.h:
