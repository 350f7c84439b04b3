test/selftests/crash_sweep: test/selftests/crash_sweep.c test/harness.h \
 include/plkv.h
test/harness.h:
include/plkv.h:
