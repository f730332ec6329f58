// Micro-benchmark (not a test), one thread: the CSR sparse kernel (ck_spmm_csr_f32) against our dense pre-packed
// fp32 GEMM (ck_sgemm_packed) on MiniLM's FFN shapes, for rows 1, 8, 32 and a sweep of densities (random masks),
// at every ISA level this CPU has. Rounds interleave sparse and dense; the table shows medians and dense ÷ sparse.
// The crossover (the highest density at which sparse still wins) sets SparseMatrix.crossover in Sources/Tensors.
// Then the same for int8: the b4 blocked-sparse kernel (ck_spmm_b4_u8s8_f32) against the dense u8×s8 GEMM
// (ck_gemm_u8s8_f32) on the same activation codes (quantization, common to both, is not timed); its crossover sets
// SparseInt8Matrix.crossover. BENCH_PART=f32|int8 runs one half.
// Build & run: sh Tests/CKernelsC/bench.sh   (or: BENCH_ROUNDS=9 /tmp/bench_sparse)
#include "CKernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    // (n, k, rows…): MiniLM's intermediate.dense and output.dense at 1, 8, 32 rows; with BENCH_CONV=1 the
    // Fashion-MNIST CNN's im2col GEMMs instead (conv2 64×288 at batch 1 and 32 = 196 and 6272 rows, conv1 32×9 at
    // batch 1 = 784 rows), to check that convolutions are not routed to a sparse kernel where it loses.
    int minilm[2][5] = {{1536, 384, 1, 8, 32}, {384, 1536, 1, 8, 32}};
    int conv[2][5] = {{64, 288, 196, 6272, 0}, {32, 9, 784, 0, 0}};
    int (*shapes)[5] = getenv("BENCH_CONV") ? conv : minilm;
    int maxrows = getenv("BENCH_CONV") ? 6272 : 32;
    double densities[7] = {0.05, 0.10, 0.20, 0.30, 0.40, 0.50, 0.70};
    const char* part = getenv("BENCH_PART");
    int top = ck_isa_detected();
    for (int isa = top; isa >= CK_ISA_AVX2 && !(part && strcmp(part, "f32")); isa--) {
        ck_set_isa_cap(isa);
        printf("== ISA %s, one thread, %d rounds (µs per call, median)\n", ck_isa_name(ck_isa()), rounds);
        printf("%-10s %5s %8s %10s %10s %8s\n", "n×k", "rows", "density", "dense", "sparse", "ratio");
        for (int s = 0; s < 2; s++) {
            int n = shapes[s][0], k = shapes[s][1];
            const int* rows_list = shapes[s] + 2;
            float* w = malloc(sizeof(float) * n * k);
            float* packed = malloc(sizeof(float) * ck_sgemm_packed_size(n, k));
            float* x = malloc(sizeof(float) * maxrows * k);
            float* y = malloc(sizeof(float) * maxrows * n);
            float* scratch = malloc(sizeof(float) * ck_spmm_scratch_floats(k));
            int32_t* rowptr = malloc(sizeof(int32_t) * (n + 1));
            uint16_t* cols = malloc(sizeof(uint16_t) * n * k);
            float* vals = malloc(sizeof(float) * n * k);
            for (int i = 0; i < maxrows * k; i++) x[i] = (float)(uniform() * 2 - 1);
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
                for (int ri = 0; ri < 3 && rows_list[ri]; ri++) {
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
    for (int isa = top; isa >= CK_ISA_AVX2 && !(part && strcmp(part, "int8")); isa--) {
        ck_set_isa_cap(isa);
        printf("== int8, ISA %s, one thread, %d rounds (µs per call, median; dense u8×s8 GEMM vs b4 sparse)\n",
               ck_isa_name(ck_isa()), rounds);
        printf("%-10s %5s %8s %10s %10s %8s %8s\n", "n×k", "rows", "density", "dense", "sparse", "ratio", "blocks");
        for (int s = 0; s < 2; s++) {
            int n = shapes[s][0], k = shapes[s][1];
            const int* rows_list = shapes[s] + 2;
            int8_t* w = malloc((size_t)n * k);
            void* packed = malloc(ck_packed_b_size(n, k));
            float* x = malloc(sizeof(float) * maxrows * k);
            uint8_t* q = malloc((size_t)maxrows * k);
            float* sa = malloc(sizeof(float) * maxrows);
            int32_t* zp = malloc(sizeof(int32_t) * maxrows);
            float* sb = malloc(sizeof(float) * n);
            float* y = malloc(sizeof(float) * maxrows * n);
            void* scratch = malloc(ck_spmm_b4_scratch_bytes(k));
            int32_t* starts = malloc(sizeof(int32_t) * (n + 1));
            uint16_t* groups = malloc(sizeof(uint16_t) * n * ((k + 3) / 4));
            int8_t* values = malloc((size_t)n * ((k + 3) / 4) * 4);
            int32_t* colsum = malloc(sizeof(int32_t) * n);
            for (int i = 0; i < maxrows * k; i++) x[i] = (float)(uniform() * 2 - 1);
            for (int i = 0; i < n; i++) sb[i] = 0.01f;
            ck_quantize_rows_u8(x, maxrows, k, q, sa, zp);
            for (int d = 0; d < 7; d++) {
                for (int i = 0; i < n * k; i++) w[i] = uniform() < densities[d] ? (int8_t)(uniform() * 254 - 127) : 0;
                ck_pack_b_s8(w, n, k, packed);
                ck_b4_pack_s8(w, n, k, starts, groups, values, colsum);
                double fill = (double)starts[n] / ((double)n * ((k + 3) / 4));
                for (int ri = 0; ri < 3 && rows_list[ri]; ri++) {
                    int m = rows_list[ri];
                    double td[32], ts[32];
                    int reps = (int)(4e7 / ((double)m * n * k) + 1);
                    for (int r = 0; r < rounds && r < 32; r++) {
                        double t0 = now();
                        for (int i = 0; i < reps; i++) ck_gemm_u8s8_f32(q, k, sa, zp, packed, sb, NULL, y, n, m, n, k, 0, n);
                        td[r] = (now() - t0) / reps;
                        t0 = now();
                        for (int i = 0; i < reps; i++)
                            ck_spmm_b4_u8s8_f32(starts, groups, values, colsum, 0, n, q, k, m, sa, zp, sb, NULL, y, n, scratch);
                        ts[r] = (now() - t0) / reps;
                    }
                    double a = median(td, rounds), b = median(ts, rounds);
                    printf("%4dx%-5d %5d %8.2f %10.2f %10.2f %7.2fx %7.2f\n", n, k, m, densities[d], a * 1e6, b * 1e6, a / b, fill);
                }
            }
            free(w); free(packed); free(x); free(q); free(sa); free(zp); free(sb); free(y); free(scratch);
            free(starts); free(groups); free(values); free(colsum);
        }
    }
    return 0;
}
