#!/bin/bash
# Runs the integration and attack suites against the sanitizer build
# (build/sanitize/bin/bulwark, made by tests/sanitize/build.sh):
#
#   tests/sanitize/run-tests.sh [PYTEST-ARGS...]
#
# Every sanitizer report is written to build/sanitize/reports/ (log_path) and
# fails the test during which it was written (tests/conftest.py); reports are
# symbolized (llvm-symbolizer) and stop the process at the first one.
#
# The servers run without --seccomp: the allow-list is the musl binary's, and
# this build is glibc's with ASan's run-time (see README.md beside this file).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/sanitize
BIN=$ROOT/build/sanitize/bin/bulwark
REPORTS=$ROOT/build/sanitize/reports

[ -x "$BIN" ] || { echo "run-tests.sh: no $BIN: run tests/sanitize/build.sh" >&2; exit 1; }
rm -rf "$REPORTS" && mkdir -p "$REPORTS"

# detect_stack_use_after_return: a pointer to a returned frame's local is the
# bug class ASan misses by default. Leaks are checked when a process exits
# (lsan.supp lists the one allocation h2o keeps for the process's lifetime).
export ASAN_OPTIONS="abort_on_error=1:halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:\
strict_string_checks=1:check_initialization_order=1:log_path=$REPORTS/asan"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:report_error_type=1:\
log_path=$REPORTS/ubsan"
export LSAN_OPTIONS="suppressions=$HERE/lsan.supp:print_suppressions=0"
ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
export ASAN_SYMBOLIZER_PATH
# timeouts of the clients that wait on PBKDF2 logins (tests/conftest.py)
export BULWARK_BIN=$BIN BULWARK_SANITIZER_LOGS=$REPORTS BULWARK_SECCOMP=0 BULWARK_TIME_SCALE=3

cd "$ROOT"
exec /usr/bin/python3 -m pytest -p no:cacheprovider tests/integration tests/attack "$@"
