test/unit/test_proto-asan: test/unit/test_proto.c \
 test/unit/../../tools/server/conn.c test/unit/../../tools/server/conn.h \
 test/unit/../../tools/server/plkvd.h include/plkv.h \
 test/unit/../../tools/server/proto_text.c \
 test/unit/../../tools/server/proto_meta.c
test/unit/../../tools/server/conn.c:
test/unit/../../tools/server/conn.h:
test/unit/../../tools/server/plkvd.h:
include/plkv.h:
test/unit/../../tools/server/proto_text.c:
test/unit/../../tools/server/proto_meta.c:
