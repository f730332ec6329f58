// Micro-benchmark (not a test), one thread: the CSR sparse kernel (ck_spmm_csr_f32) against our dense pre-packed
// fp32 GEMM (ck_sgemm_packed) on MiniLM's FFN shapes, for rows 1, 8, 32 and a sweep of densities (random masks),
// at every ISA level this CPU has. Rounds interleave sparse and dense; the table shows medians and dense ÷ sparse.
// The crossover (the highest density at which sparse still wins) sets SparseMatrix.crossover in Sources/Tensors.
// Build & run: sh Tests/CKernelsC/bench.sh   (or: BENCH_ROUNDS=9 /tmp/bench_sparse)
#include "CKernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void* x, const void* y) {
    double a = *(const double*)x, b = *(const double*)y;
    return a < b ? -1 : a > b;
}

static double median(double* v, int n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static unsigned long long rng = 88172645463325252ull;
static double uniform(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (rng >> 11) * (1.0 / 9007199254740992.0);
}

int main(void) {
    const char* env = getenv("BENCH_ROUNDS");
    int rounds = env ? atoi(env) : 7;
    int shapes[2][2] = {{1536, 384}, {384, 1536}};  // (n, k): intermediate.dense, output.dense
    int rows_list[3] = {1, 8, 32};
    double densities[7] = {0.05, 0.10, 0.20, 0.30, 0.40, 0.50, 0.70};
    int top = ck_isa_detected();
    for (int isa = top; isa >= CK_ISA_AVX2; isa--) {
        ck_set_isa_cap(isa);
        printf("== ISA %s, one thread, %d rounds (µs per call, median)\n", ck_isa_name(ck_isa()), rounds);
        printf("%-10s %5s %8s %10s %10s %8s\n", "n×k", "rows", "density", "dense", "sparse", "ratio");
        for (int s = 0; s < 2; s++) {
            int n = shapes[s][0], k = shapes[s][1];
            float* w = malloc(sizeof(float) * n * k);
            float* packed = malloc(sizeof(float) * ck_sgemm_packed_size(n, k));
            float* x = malloc(sizeof(float) * 32 * k);
            float* y = malloc(sizeof(float) * 32 * n);
            float* scratch = malloc(sizeof(float) * ck_spmm_scratch_floats(k));
            int32_t* rowptr = malloc(sizeof(int32_t) * (n + 1));
            uint16_t* cols = malloc(sizeof(uint16_t) * n * k);
            float* vals = malloc(sizeof(float) * n * k);
            for (int i = 0; i < 32 * k; i++) x[i] = (float)(uniform() * 2 - 1);
            for (int d = 0; d < 7; d++) {
                int nnz = 0;
                rowptr[0] = 0;
                for (int o = 0; o < n; o++) {
                    for (int j = 0; j < k; j++) {
                        float v = uniform() < densities[d] ? (float)(uniform() * 2 - 1) : 0.0f;
                        w[o * k + j] = v;
                        if (v != 0.0f) { cols[nnz] = (uint16_t)j; vals[nnz++] = v; }
                    }
                    rowptr[o + 1] = nnz;
                }
                ck_sgemm_pack_b(w, n, k, packed);
                for (int ri = 0; ri < 3; ri++) {
                    int m = rows_list[ri];
                    double td[32], ts[32];
                    int reps = (int)(2e7 / ((double)m * n * k) + 1);
                    for (int r = 0; r < rounds && r < 32; r++) {
                        double t0 = now();
                        for (int q = 0; q < reps; q++) ck_sgemm_packed(x, k, packed, NULL, y, n, m, n, k, 0, n);
                        td[r] = (now() - t0) / reps;
                        t0 = now();
                        for (int q = 0; q < reps; q++) ck_spmm_csr_f32(rowptr, cols, vals, 0, n, x, k, m, y, n, scratch);
                        ts[r] = (now() - t0) / reps;
                    }
                    double a = median(td, rounds), b = median(ts, rounds);
                    printf("%4dx%-5d %5d %8.2f %10.2f %10.2f %7.2fx\n", n, k, m, densities[d], a * 1e6, b * 1e6, a / b);
                }
            }
            free(w); free(packed); free(x); free(y); free(scratch); free(rowptr); free(cols); free(vals);
        }
    }
    return 0;
}
