test/selftests/kmod_seg: test/selftests/kmod_seg.c \
 test/selftests/kmod_util.h test/harness.h include/uapi/linux/plkv.h
test/selftests/kmod_util.h:
test/harness.h:
include/uapi/linux/plkv.h:
