#!/bin/sh
# Builds and runs the sgemm / attention C tests (test_sgemm.c) at every ISA level this CPU supports. Run from anywhere.
set -e
cd "$(dirname "$0")/../.."
out="${TMPDIR:-/tmp}/ck_test_sgemm"
gcc -O2 -Wall -Wextra -I Sources/CKernels/include Sources/CKernels/*.c Tests/CKernelsC/test_sgemm.c -lm -lpthread -o "$out"
"$out"
