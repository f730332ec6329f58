// Micro-benchmark (not a test): our pre-packed fp32 GEMM (ck_sgemm_packed) vs OpenBLAS cblas_sgemm, one thread,
// at MiniLM's shapes (m = tokens, n = out, k = in) and square sizes. Reports GFLOP/s; best of interleaved rounds.
// Build & run: bash Tests/CKernelsC/bench.sh
#include "CKernels.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    const int shapes[][3] = {{1, 1536, 384}, {23, 1152, 384}, {23, 384, 384}, {23, 1536, 384}, {23, 384, 1536},
                             {256, 256, 256}, {736, 1536, 384}, {1024, 1024, 1024}};
    printf("%-22s %12s %12s %8s\n", "m x n x k", "ours GF/s", "OpenBLAS", "ratio");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float* a = malloc(sizeof(float) * m * k);
        float* w = malloc(sizeof(float) * n * k);
        float* c = malloc(sizeof(float) * m * n);
        float* p = malloc(sizeof(float) * ck_sgemm_packed_size(n, k));
        for (int i = 0; i < m * k; i++) a[i] = (float)(i % 13) * 0.01f;
        for (int i = 0; i < n * k; i++) w[i] = (float)(i % 7) * 0.01f;
        ck_sgemm_pack_b(w, n, k, p);
        double flop = 2.0 * m * n * k, best_ours = 0, best_blas = 0;
        int reps = (int)(2e9 / flop) + 1;
        for (int round = 0; round < 5; round++) {
            double t0 = now();
            for (int r = 0; r < reps; r++) ck_sgemm_packed(a, k, p, NULL, c, n, m, n, k, 0, n);
            double t1 = now();
            for (int r = 0; r < reps; r++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, w, k, 0, c, n);
            double t2 = now();
            if (flop * reps / (t1 - t0) > best_ours) best_ours = flop * reps / (t1 - t0);
            if (flop * reps / (t2 - t1) > best_blas) best_blas = flop * reps / (t2 - t1);
        }
        char name[32];
        snprintf(name, sizeof name, "%d x %d x %d", m, n, k);
        printf("%-22s %12.1f %12.1f %7.2fx\n", name, best_ours / 1e9, best_blas / 1e9, best_ours / best_blas);
        free(a); free(w); free(c); free(p);
    }
    return 0;
}
