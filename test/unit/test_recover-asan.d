test/unit/test_recover-asan: test/unit/test_recover.c \
 test/unit/eng_test.h include/plkv.h lib/engine.h lib/core.h \
 include/uapi/linux/plkv.h
test/unit/eng_test.h:
include/plkv.h:
lib/engine.h:
lib/core.h:
include/uapi/linux/plkv.h:
