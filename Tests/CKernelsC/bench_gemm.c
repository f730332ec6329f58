// Micro-benchmark (not a test): single-thread int8 GEMM (GOPS) and int4 GEMM vs OpenBLAS sgemm (GFLOP/s).
// Build & run:
//   gcc -O2 -I Sources/CKernels/include Sources/CKernels/*.c Tests/CKernelsC/bench_gemm.c \
//       -I/usr/include/x86_64-linux-gnu -lopenblas -lm -o /tmp/bench_gemm && OPENBLAS_NUM_THREADS=1 /tmp/bench_gemm
// COMPRESS_ISA=avx2 (or scalar) benchmarks the lower paths.
#include "CKernels.h"

#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Runs fn until ~0.3 s have passed (at least 3 times) and returns the best per-call seconds.
#define TIME_BEST(best, stmt)                                                                        \
    do {                                                                                             \
        stmt; /* warm-up */                                                                          \
        best = 1e30;                                                                                 \
        double t_end = now() + 0.3;                                                                  \
        int reps = 0;                                                                                \
        while (reps < 3 || now() < t_end) {                                                          \
            double t0 = now();                                                                       \
            stmt;                                                                                    \
            double dt = now() - t0;                                                                  \
            if (dt < best) best = dt;                                                                \
            reps++;                                                                                  \
        }                                                                                            \
    } while (0)

int main(void) {
    openblas_set_num_threads(1);
    printf("ISA: %s (single thread; OpenBLAS threads=1)\n", ck_isa_name(ck_isa()));
    printf("%-18s %10s %10s %10s %10s %10s %8s\n", "M x N x K", "sgemm", "u8s8_f32", "u8s8_s32", "quant+f32", "q4_f32",
           "int8/sg");
    const size_t shapes[][3] = {{256, 256, 256},   {1024, 1024, 1024}, {1, 1536, 384},   {1, 384, 1536},
                                {1, 384, 384},     {16, 1536, 384},    {16, 384, 1536},  {16, 384, 384},
                                {512, 1536, 384},  {512, 384, 1536},   {512, 384, 384}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float* af = malloc(m * k * sizeof(float));
        float* wf = malloc(n * k * sizeof(float));
        float* cf = malloc(m * n * sizeof(float));
        int32_t* c32 = malloc(m * n * sizeof(int32_t));
        uint8_t* a8 = malloc(m * k);
        int8_t* w8 = malloc(n * k);
        float *as = malloc(m * sizeof(float)), *bs = malloc(n * sizeof(float)), *bias = malloc(n * sizeof(float));
        int32_t* zp = malloc(m * sizeof(int32_t));
        for (size_t i = 0; i < m * k; i++) af[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
        for (size_t i = 0; i < n * k; i++) wf[i] = (float)((i * 40503u) % 1000) / 5000.0f - 0.1f;
        for (size_t j = 0; j < n; j++) bias[j] = 0.01f * (float)(j % 7);
        ck_quantize_rows_u8(af, m, k, a8, as, zp);
        ck_quantize_rows_s8(wf, n, k, w8, bs);
        void* pb = aligned_alloc(64, (ck_packed_b_size(n, k) + 63) / 64 * 64);
        ck_pack_b_s8(w8, n, k, pb);
        ck_block_q4* q4 = malloc(n * ck_q4_blocks_per_row(k) * sizeof(ck_block_q4));
        ck_quantize_q4_ref(wf, n, k, q4);

        double t_sg, t_f, t_s, t_qf, t_q4;
        TIME_BEST(t_sg, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, af, (int)k,
                                    wf, (int)k, 0.0f, cf, (int)n));
        TIME_BEST(t_f, ck_gemm_u8s8_f32(a8, k, as, zp, pb, bs, bias, cf, n, m, n, k, 0, n));
        TIME_BEST(t_s, ck_gemm_u8s8_s32(a8, k, zp, pb, c32, n, m, n, k, 0, n));
        TIME_BEST(t_qf, (ck_quantize_rows_u8(af, m, k, a8, as, zp),
                         ck_gemm_u8s8_f32(a8, k, as, zp, pb, bs, bias, cf, n, m, n, k, 0, n)));
        if (m <= 16) TIME_BEST(t_q4, ck_gemm_q4_f32(af, k, q4, bias, cf, n, m, n, k, 0, n));
        else t_q4 = 0;
        double ops = 2.0 * m * n * k * 1e-9;
        char label[32];
        snprintf(label, sizeof label, "%zux%zux%zu", m, n, k);
        char q4s[16] = "-";
        if (t_q4 > 0) snprintf(q4s, sizeof q4s, "%.1f", ops / t_q4);
        printf("%-18s %10.1f %10.1f %10.1f %10.1f %10s %7.2fx\n", label, ops / t_sg, ops / t_f, ops / t_s, ops / t_qf, q4s,
               t_sg / t_f);
        free(af), free(wf), free(cf), free(c32), free(a8), free(w8), free(as), free(bs), free(bias), free(zp), free(pb),
            free(q4);
    }
    printf("(G ops/s = 2·M·N·K / time; quant+f32 includes ck_quantize_rows_u8 of the activations)\n");
    return 0;
}
