test/selftests/core_locks: test/selftests/core_locks.c test/harness.h \
 lib/core.h include/plkv.h include/uapi/linux/plkv.h
test/harness.h:
lib/core.h:
include/plkv.h:
include/uapi/linux/plkv.h:
