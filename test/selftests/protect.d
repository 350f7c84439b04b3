test/selftests/protect: test/selftests/protect.c test/harness.h \
 lib/core.h include/plkv.h include/uapi/linux/plkv.h
test/harness.h:
lib/core.h:
include/plkv.h:
include/uapi/linux/plkv.h:
