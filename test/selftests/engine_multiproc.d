test/selftests/engine_multiproc: test/selftests/engine_multiproc.c \
 test/harness.h include/plkv.h lib/core.h include/uapi/linux/plkv.h
test/harness.h:
include/plkv.h:
lib/core.h:
include/uapi/linux/plkv.h:
