#!/bin/sh
# Builds and runs the CKernels C tests at every ISA level this CPU supports. Run from anywhere.
set -e
cd "$(dirname "$0")/../.."
out="${TMPDIR:-/tmp}/ck_test_ckernels"
gcc -O2 -Wall -Wextra -I Sources/CKernels/include Sources/CKernels/*.c Tests/CKernelsC/test_ckernels.c -lm -o "$out"
"$out"
