test/unit/test_check: test/unit/test_check.c test/unit/eng_test.h \
 include/plkv.h lib/engine.h lib/core.h include/uapi/linux/plkv.h
test/unit/eng_test.h:
include/plkv.h:
lib/engine.h:
lib/core.h:
include/uapi/linux/plkv.h:
