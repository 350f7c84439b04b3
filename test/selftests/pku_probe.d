test/selftests/pku_probe: test/selftests/pku_probe.c test/harness.h
test/harness.h:
