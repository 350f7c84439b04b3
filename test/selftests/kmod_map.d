test/selftests/kmod_map: test/selftests/kmod_map.c \
 test/selftests/kmod_util.h test/harness.h include/uapi/linux/plkv.h
test/selftests/kmod_util.h:
test/harness.h:
include/uapi/linux/plkv.h:
