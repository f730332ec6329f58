// Micro-benchmark (not a test), one thread, at every ISA level this CPU has:
//   1. our pre-packed fp32 GEMM (ck_sgemm_packed) vs OpenBLAS cblas_sgemm(RowMajor, NoTrans, Trans) at MiniLM's
//      Linear shapes (m = tokens, n = out, k = in);
//   2. the fused attention head (ck_attention_head_f32) vs the BLAS route it replaces (sgemm q·kᵀ, softmax rows,
//      sgemm P·v), 12 heads of a (len, 3H) QKV matrix.
// The machine may be shared, so each round times ours and OpenBLAS back to back (interleaved) and the tables show
// the median GFLOP/s over the rounds, with the ratio of the medians.
// Build & run: sh Tests/CKernelsC/bench.sh   (or: BENCH_ROUNDS=15 /tmp/bench_sgemm)
#include "CKernels.h"

#include <cblas.h>
#include <math.h>
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

// Seconds per call, timing enough calls for ~20 ms.
typedef void (*gemm_fn)(void* ctx);
static double time_call(gemm_fn fn, void* ctx, int reps) {
    double t0 = now();
    for (int r = 0; r < reps; r++) fn(ctx);
    return (now() - t0) / reps;
}

typedef struct {
    const float *a, *w, *packed;
    float* c;
    int m, n, k;
} job;

static void run_ours(void* p) {
    job* j = p;
    ck_sgemm_packed(j->a, j->k, j->packed, NULL, j->c, j->n, j->m, j->n, j->k, 0, j->n);
}

static void run_blas(void* p) {
    job* j = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->m, j->n, j->k, 1, j->a, j->k, j->w, j->k, 0, j->c, j->n);
}

typedef struct {
    size_t len, dh, heads;
    float *qkv, *ctx, *scratch;
} att_job;

static void run_attention(void* p) {
    att_job* j = p;
    size_t h = j->heads * j->dh, ld = 3 * h;
    float scale = 1.0f / sqrtf((float)j->dh);
    for (size_t head = 0; head < j->heads; head++) {
        const float* q = j->qkv + head * j->dh;
        ck_attention_head_f32(q, q + h, q + 2 * h, ld, j->len, j->dh, scale, j->ctx + head * j->dh, h, j->scratch);
    }
}

// What the fused kernel replaced: scores = q·kᵀ and ctx = P·v as two sgemm calls per head.
static void run_attention_blas(void* p) {
    att_job* j = p;
    int len = (int)j->len, dh = (int)j->dh, h = (int)(j->heads * j->dh), ld = 3 * h;
    float scale = 1.0f / sqrtf((float)j->dh);
    for (size_t head = 0; head < j->heads; head++) {
        const float* q = j->qkv + head * j->dh;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, len, len, dh, 1, q, ld, q + h, ld, 0, j->scratch, len);
        ck_softmax_rows_f32(j->scratch, j->len, j->len, scale, NULL);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, len, dh, len, 1, j->scratch, len, q + 2 * h, ld, 0,
                    j->ctx + head * j->dh, h);
    }
}

int main(void) {
    const int ms[] = {1, 8, 23, 32, 64, 128, 256, 736};
    const int kn[][2] = {{384, 1152}, {384, 384}, {384, 1536}, {1536, 384}};
    const char* env = getenv("BENCH_ROUNDS");
    int rounds = env ? atoi(env) : 7;
    if (rounds < 1) rounds = 1;
    int top = ck_isa_detected();
    double* g_ours = malloc(sizeof(double) * rounds * 3);
    double* g_blas = malloc(sizeof(double) * rounds);

    printf("median GFLOP/s of %d interleaved rounds, 1 thread (ratio = ours / OpenBLAS)\n", rounds);
    printf("%-18s", "m x n x k");
    for (int l = top; l >= 0; l--) printf(" %8s", ck_isa_name(l));
    printf(" %8s", "OpenBLAS");
    for (int l = top; l >= 0; l--) printf(" %7s", ck_isa_name(l));
    printf("\n");
    for (size_t s = 0; s < sizeof kn / sizeof kn[0]; s++) {
        for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
            int m = ms[mi], k = kn[s][0], n = kn[s][1];
            float* a = aligned_alloc(64, sizeof(float) * ((size_t)m * k + 16));
            float* w = aligned_alloc(64, sizeof(float) * ((size_t)n * k + 16));
            float* c = aligned_alloc(64, sizeof(float) * ((size_t)m * n + 16));
            float* p = aligned_alloc(64, sizeof(float) * (ck_sgemm_packed_size(n, k) + 16));
            for (int i = 0; i < m * k; i++) a[i] = (float)(i % 13) * 0.01f;
            for (int i = 0; i < n * k; i++) w[i] = (float)(i % 7) * 0.01f;
            ck_sgemm_pack_b(w, n, k, p);
            job j = {a, w, p, c, m, n, k};
            double flop = 2.0 * m * n * k;
            int reps = (int)(4e7 / flop) + 1;  // ~20 ms per timing at ~100 GFLOP/s... at least one call
            for (int l = top; l >= 0; l--) {    // warm-up
                ck_set_isa_cap(l);
                run_ours(&j);
            }
            run_blas(&j);
            for (int r = 0; r < rounds; r++) {
                for (int l = top; l >= 0; l--) {
                    ck_set_isa_cap(l);
                    int lr = l == 0 ? (reps + 9) / 10 : reps;  // scalar is ~20x slower
                    g_ours[l * rounds + r] = flop / time_call(run_ours, &j, lr) / 1e9;
                }
                g_blas[r] = flop / time_call(run_blas, &j, reps) / 1e9;
            }
            ck_set_isa_cap(-1);
            char name[32];
            snprintf(name, sizeof name, "%d x %d x %d", m, n, k);
            printf("%-18s", name);
            double med[3];
            for (int l = top; l >= 0; l--) printf(" %8.1f", med[l] = median(g_ours + l * rounds, rounds));
            double mb = median(g_blas, rounds);
            printf(" %8.1f", mb);
            for (int l = top; l >= 0; l--) printf(" %6.2fx", med[l] / mb);
            printf("\n");
            fflush(stdout);
            free(a);
            free(w);
            free(c);
            free(p);
        }
    }

    printf("\nattention, 12 heads, GFLOP/s (4·len²·dh per head); BLAS = 2 cblas_sgemm + ck_softmax_rows_f32 per head\n");
    printf("%-18s", "len x dh");
    for (int l = top; l >= 0; l--) printf(" %8s", ck_isa_name(l));
    printf(" %8s", "BLAS");
    for (int l = top; l >= 0; l--) printf(" %7s", ck_isa_name(l));
    printf("\n");
    const int lens[] = {8, 23, 64, 128, 512}, dhs[] = {32, 64};
    for (size_t di = 0; di < 2; di++) {
        for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
            att_job j = {.len = lens[li], .dh = dhs[di], .heads = 12};
            size_t h = (size_t)j.heads * j.dh, ld = 3 * h;
            j.qkv = aligned_alloc(64, sizeof(float) * (j.len * ld + 16));
            j.ctx = aligned_alloc(64, sizeof(float) * (j.len * h + 16));
            j.scratch = aligned_alloc(64, sizeof(float) * (ck_attention_scratch_size(j.len, j.dh) + (size_t)j.len * j.len + 16));
            for (size_t i = 0; i < j.len * ld; i++) j.qkv[i] = (float)(i % 17) * 0.03f - 0.25f;
            double flop = 4.0 * j.len * j.len * j.dh * j.heads;
            int reps = (int)(4e7 / flop) + 1;
            for (int r = 0; r < rounds; r++) {
                for (int l = top; l >= 0; l--) {
                    ck_set_isa_cap(l);
                    g_ours[l * rounds + r] = flop / time_call(run_attention, &j, l == 0 ? (reps + 9) / 10 : reps) / 1e9;
                }
                ck_set_isa_cap(-1);
                g_blas[r] = flop / time_call(run_attention_blas, &j, reps) / 1e9;
            }
            char name[32];
            snprintf(name, sizeof name, "%zu x %zu", j.len, j.dh);
            printf("%-18s", name);
            double med[3];
            for (int l = top; l >= 0; l--) printf(" %8.1f", med[l] = median(g_ours + l * rounds, rounds));
            double mb = median(g_blas, rounds);
            printf(" %8.1f", mb);
            for (int l = top; l >= 0; l--) printf(" %6.2fx", med[l] / mb);
            printf("\n");
            fflush(stdout);
            free(j.qkv);
            free(j.ctx);
            free(j.scratch);
        }
    }
    ck_set_isa_cap(-1);
    free(g_ours);
    free(g_blas);
    return 0;
}
