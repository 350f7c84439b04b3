test/selftests/wrpkru_scan: test/selftests/wrpkru_scan.c test/harness.h \
 include/plkv.h
test/harness.h:
include/plkv.h:
