// Compares every CKernels kernel, at every ISA level this CPU has, with its scalar `_ref` twin
// (and integer GEMMs with a naive triple loop on the unpacked weights). Run via Tests/CKernelsC/run.sh.
#include "CKernels.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int n_passed = 0, n_failed = 0;

static void check(int ok, const char* what, const char* isa, const char* detail) {
    if (ok) {
        n_passed++;
    } else {
        n_failed++;
        printf("FAIL [%s] %s %s\n", isa, what, detail);
    }
}

// xorshift: deterministic data without depending on libc rand().
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd_u32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}
static float rnd_f(float lo, float hi) { return lo + (hi - lo) * (float)(rnd_u32() >> 8) / 16777216.0f; }
static void fill_f(float* x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = rnd_f(lo, hi);
}
static float* alloc_f(size_t n) { return (float*)malloc((n ? n : 1) * sizeof(float)); }

// max |a - b| / (abs_tol + rel_tol·|b|); ≤ 1 means within tolerance.
static double worst_ratio(const float* a, const float* b, size_t n, double abs_tol, double rel_tol, double* max_abs) {
    double worst = 0, mabs = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (isnan(a[i]) != isnan(b[i])) d = INFINITY;
        if (d > mabs) mabs = d;
        double r = d / (abs_tol + rel_tol * fabs((double)b[i]));
        if (r > worst) worst = r;
    }
    if (max_abs) *max_abs = mabs;
    return worst;
}

static const size_t SHAPES[] = {1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 100, 384, 1536};
#define N_SHAPES (sizeof(SHAPES) / sizeof(SHAPES[0]))

// MARK: - fp32

typedef void (*rowwise_fn)(float*, const float*, size_t, size_t);
typedef void (*unary_fn)(float*, size_t);

static void test_rowwise(const char* isa, const char* name, rowwise_fn fast, rowwise_fn ref, float lo, float hi,
                         double abs_tol, double rel_tol) {
    const size_t rows_list[] = {1, 3, 15};
    double worst = 0, mabs_all = 0;
    for (size_t ri = 0; ri < 3; ri++)
        for (size_t ci = 0; ci < N_SHAPES; ci++) {
            size_t rows = rows_list[ri], cols = SHAPES[ci];
            float* x = alloc_f(rows * cols);
            float* y = alloc_f(rows * cols);
            float* bias = alloc_f(cols);
            fill_f(x, rows * cols, lo, hi);
            fill_f(bias, cols, -0.5f, 0.5f);
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                memcpy(y, x, rows * cols * sizeof(float));
                float* xx = alloc_f(rows * cols);
                memcpy(xx, x, rows * cols * sizeof(float));
                fast(xx, with_bias ? bias : NULL, rows, cols);
                ref(y, with_bias ? bias : NULL, rows, cols);
                double mabs;
                double w = worst_ratio(xx, y, rows * cols, abs_tol, rel_tol, &mabs);
                if (w > worst) worst = w;
                if (mabs > mabs_all) mabs_all = mabs;
                free(xx);
            }
            free(x), free(y), free(bias);
        }
    char detail[160];
    snprintf(detail, sizeof detail, "max abs err %.3g (worst/tol %.3g)", mabs_all, worst);
    check(worst <= 1.0, name, isa, detail);
    printf("  [%s] %-22s %s\n", isa, name, detail);
}

static void test_unary(const char* isa, const char* name, unary_fn fast, unary_fn ref, float lo, float hi,
                       double abs_tol, double rel_tol) {
    // A dense sweep of [lo, hi] plus random odd lengths.
    size_t n = 200001;
    float* x = alloc_f(n);
    float* y = alloc_f(n);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)i / (float)(n - 1);
    memcpy(y, x, n * sizeof(float));
    fast(x, n);
    ref(y, n);
    double mabs;
    double worst = worst_ratio(x, y, n, abs_tol, rel_tol, &mabs);
    for (size_t ci = 0; ci < N_SHAPES; ci++) {
        size_t m = SHAPES[ci];
        fill_f(x, m, lo, hi);
        memcpy(y, x, m * sizeof(float));
        fast(x, m);
        ref(y, m);
        double ma;
        double w = worst_ratio(x, y, m, abs_tol, rel_tol, &ma);
        if (w > worst) worst = w;
        if (ma > mabs) mabs = ma;
    }
    char detail[160];
    snprintf(detail, sizeof detail, "on [%g,%g]: max abs err %.3g (worst/tol %.3g)", lo, hi, mabs, worst);
    check(worst <= 1.0, name, isa, detail);
    printf("  [%s] %-22s %s\n", isa, name, detail);
    free(x), free(y);
}

static void gelu_unary(float* x, size_t n) { ck_bias_gelu_f32(x, NULL, 1, n); }
static void gelu_unary_ref(float* x, size_t n) { ck_bias_gelu_f32_ref(x, NULL, 1, n); }
static void relu_rowwise_ref(float* x, const float* b, size_t r, size_t c) { ck_bias_relu_f32_ref(x, b, r, c); }

static void test_layernorm(const char* isa) {
    double worst = 0, mabs_all = 0;
    const size_t rows_list[] = {1, 2, 15};
    for (size_t ri = 0; ri < 3; ri++)
        for (size_t ci = 0; ci < N_SHAPES; ci++)
            for (int variant = 0; variant < 4; variant++) {
                size_t rows = rows_list[ri], cols = SHAPES[ci];
                float* x = alloc_f(rows * cols);
                float* y = alloc_f(rows * cols);
                float* res = alloc_f(rows * cols);
                float* bias = alloc_f(cols);
                float* gamma = alloc_f(cols);
                float* beta = alloc_f(cols);
                // An offset mean stresses the two-pass variance.
                fill_f(x, rows * cols, 3.0f, 5.0f);
                fill_f(res, rows * cols, -2.0f, 2.0f);
                fill_f(bias, cols, -0.5f, 0.5f);
                fill_f(gamma, cols, 0.5f, 1.5f);
                fill_f(beta, cols, -0.5f, 0.5f);
                memcpy(y, x, rows * cols * sizeof(float));
                const float* r = (variant & 1) ? res : NULL;
                const float* b = (variant & 2) ? bias : NULL;
                ck_add_layernorm_f32(x, r, b, gamma, beta, 1e-12f, rows, cols);
                ck_add_layernorm_f32_ref(y, r, b, gamma, beta, 1e-12f, rows, cols);
                double mabs;
                // Outputs are O(1..5); 1e-6 relative to the row's scale.
                double w = worst_ratio(x, y, rows * cols, 2e-6, 1e-6, &mabs);
                if (w > worst) worst = w;
                if (mabs > mabs_all) mabs_all = mabs;
                free(x), free(y), free(res), free(bias), free(gamma), free(beta);
            }
    char detail[160];
    snprintf(detail, sizeof detail, "max abs err %.3g vs float64-accumulated twin (worst/tol %.3g)", mabs_all, worst);
    check(worst <= 1.0, "add_layernorm", isa, detail);
    printf("  [%s] %-22s %s\n", isa, "add_layernorm", detail);
}

static void test_softmax(const char* isa) {
    double worst = 0, mabs_all = 0;
    const size_t rows_list[] = {1, 3, 12};
    for (size_t ri = 0; ri < 3; ri++)
        for (size_t ci = 0; ci < N_SHAPES; ci++)
            for (int variant = 0; variant < 3; variant++) {
                size_t rows = rows_list[ri], cols = SHAPES[ci];
                float* x = alloc_f(rows * cols);
                float* y = alloc_f(rows * cols);
                float* kb = alloc_f(cols);
                fill_f(x, rows * cols, -8.0f, 8.0f);
                for (size_t c = 0; c < cols; c++) kb[c] = (c % 3 == 2) ? (variant == 2 ? -INFINITY : -1e9f) : 0.0f;
                memcpy(y, x, rows * cols * sizeof(float));
                const float* b = variant ? kb : NULL;
                ck_softmax_rows_f32(x, rows, cols, 0.125f, b);
                ck_softmax_rows_f32_ref(y, rows, cols, 0.125f, b);
                double mabs;
                double w = worst_ratio(x, y, rows * cols, 1e-9, 1e-6, &mabs);
                if (w > worst) worst = w;
                if (mabs > mabs_all) mabs_all = mabs;
                free(x), free(y), free(kb);
            }
    // All-padding row: zeros, no NaN.
    float z[17], zr[17], kb[17];
    for (int i = 0; i < 17; i++) z[i] = zr[i] = (float)i, kb[i] = -INFINITY;
    ck_softmax_rows_f32(z, 1, 17, 1.0f, kb);
    ck_softmax_rows_f32_ref(zr, 1, 17, 1.0f, kb);
    int zeros = 1;
    for (int i = 0; i < 17; i++) zeros &= (z[i] == 0.0f && zr[i] == 0.0f);
    check(zeros, "softmax all -inf row", isa, "expected zeros");
    char detail[160];
    snprintf(detail, sizeof detail, "max abs err %.3g (rel tol 1e-6; worst/tol %.3g)", mabs_all, worst);
    check(worst <= 1.0, "softmax_rows", isa, detail);
    printf("  [%s] %-22s %s\n", isa, "softmax_rows", detail);
}

// The SIMD erf must be as accurate as libm: compare both with a float64 GELU on a dense sweep.
static void test_gelu_vs_f64(const char* isa) {
    size_t n = 400001;
    float* x = alloc_f(n);
    float* y = alloc_f(n);
    float* in = alloc_f(n);
    for (size_t i = 0; i < n; i++) in[i] = x[i] = -10.0f + 20.0f * (float)i / (float)(n - 1);
    memcpy(y, x, n * sizeof(float));
    ck_bias_gelu_f32(x, NULL, 1, n);
    ck_bias_gelu_f32_ref(y, NULL, 1, n);
    double err_fast = 0, err_libm = 0, err_small = 0;
    for (size_t i = 0; i < n; i++) {
        double v = in[i];
        double g = 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
        double ef = fabs(x[i] - g), el = fabs(y[i] - g);
        if (ef > err_fast) err_fast = ef;
        if (el > err_libm) err_libm = el;
        if (fabs(v) <= 2.0 && fabs(x[i] - y[i]) > err_small) err_small = fabs(x[i] - y[i]);
    }
    char detail[200];
    snprintf(detail, sizeof detail, "vs float64 on [-10,10]: simd %.3g, libm %.3g; |simd-libm| for |x|<=2: %.3g", err_fast,
             err_libm, err_small);
    check(err_fast <= err_libm * 1.1 + 1e-8 && err_small <= 2e-7, "gelu accuracy", isa, detail);
    printf("  [%s] %-22s %s\n", isa, "gelu accuracy", detail);
    free(x), free(y), free(in);
}

// AdamW: SIMD and twin follow the same operation order without FMA, so they must agree bit for bit.
static void test_adamw(const char* isa) {
    const size_t ns[] = {1, 15, 16, 17, 100, 1537};
    for (size_t s = 0; s < sizeof(ns) / sizeof(ns[0]); s++) {
        size_t n = ns[s];
        float *p = alloc_f(n), *m = alloc_f(n), *v = alloc_f(n), *g = alloc_f(n);
        float *pr = alloc_f(n), *mr = alloc_f(n), *vr = alloc_f(n);
        fill_f(p, n, -1, 1);
        memset(m, 0, n * sizeof(float));
        memset(v, 0, n * sizeof(float));
        memcpy(pr, p, n * sizeof(float));
        memcpy(mr, m, n * sizeof(float));
        memcpy(vr, v, n * sizeof(float));
        for (int t = 1; t <= 3; t++) {
            fill_f(g, n, -2, 2);
            float c1 = 1 - powf(0.9f, (float)t), c2 = 1 - powf(0.999f, (float)t), decay = t == 2 ? 1.0f : 0.99999f;
            ck_adamw_f32(p, m, v, g, n, 1e-3f, 0.9f, 0.999f, 1e-8f, decay, c1, c2);
            ck_adamw_f32_ref(pr, mr, vr, g, n, 1e-3f, 0.9f, 0.999f, 1e-8f, decay, c1, c2);
        }
        char why[64];
        snprintf(why, sizeof why, "n=%zu", n);
        check(!memcmp(p, pr, n * sizeof(float)) && !memcmp(m, mr, n * sizeof(float)) && !memcmp(v, vr, n * sizeof(float)),
              "adamw bit-exact", isa, why);
        free(p), free(m), free(v), free(g), free(pr), free(mr), free(vr);
    }
}

// col2im and max pooling: SIMD over channels visits windows in the twin's order, so results are identical.
static void test_window(const char* isa) {
    const int64_t cs[] = {1, 7, 16, 17, 33};
    const int64_t geo[][5] = {{3, 1, 1, 9, 6}, {2, 2, 0, 4, 3}, {3, 2, 1, 5, 3}};  // k, stride, pad, oh, ow on 9 x 6
    for (size_t ci = 0; ci < sizeof(cs) / sizeof(cs[0]); ci++)
        for (size_t gi = 0; gi < 3; gi++) {
            const int64_t c = cs[ci], k = geo[gi][0], st = geo[gi][1], pad = geo[gi][2], oh = geo[gi][3], ow = geo[gi][4];
            ck_window2d g = {3, 9, 6, c, oh, ow, k, k, st, st, pad, pad};
            size_t in = (size_t)(3 * 9 * 6 * c), out = (size_t)(3 * oh * ow * c), cols = (size_t)(3 * oh * ow * k * k * c);
            float *dcols = alloc_f(cols), *dx = alloc_f(in), *dxr = alloc_f(in), *x = alloc_f(in);
            float *y = alloc_f(out), *yr = alloc_f(out);
            int32_t *a = malloc(out * sizeof(int32_t)), *ar = malloc(out * sizeof(int32_t));
            fill_f(dcols, cols, -1, 1);
            fill_f(dx, in, -1, 1);
            memcpy(dxr, dx, in * sizeof(float));
            fill_f(x, in, -1, 1);
            ck_col2im_nhwc_f32(dx, dcols, &g, 0, 2);
            ck_col2im_nhwc_f32(dx, dcols, &g, 2, 3);
            ck_col2im_nhwc_f32_ref(dxr, dcols, &g, 0, 3);
            ck_maxpool_forward_nhwc_f32(y, a, x, &g, 0, 3);
            ck_maxpool_forward_nhwc_f32_ref(yr, ar, x, &g, 0, 3);
            char why[64];
            snprintf(why, sizeof why, "c=%lld k=%lld s=%lld", (long long)c, (long long)k, (long long)st);
            check(!memcmp(dx, dxr, in * sizeof(float)), "col2im exact", isa, why);
            check(!memcmp(y, yr, out * sizeof(float)) && !memcmp(a, ar, out * sizeof(int32_t)), "maxpool exact", isa, why);
            free(dcols), free(dx), free(dxr), free(x), free(y), free(yr), free(a), free(ar);
        }
}

// BatchNorm: per-feature loops over rows in order, no FMA: SIMD equals the twin bit for bit.
static void test_batchnorm(const char* isa) {
    const size_t fs[] = {1, 7, 16, 33, 64};
    for (size_t fi = 0; fi < sizeof(fs) / sizeof(fs[0]); fi++) {
        size_t f = fs[fi], rows = 37, n = rows * f;
        float *x = alloc_f(n), *dy = alloc_f(n), *y = alloc_f(n), *yr = alloc_f(n), *h = alloc_f(n), *hr = alloc_f(n);
        float *dx = alloc_f(n), *dxr = alloc_f(n), *m = alloc_f(f), *rs = alloc_f(f), *g = alloc_f(f), *b = alloc_f(f);
        double *s = calloc(f, sizeof(double)), *sr = calloc(f, sizeof(double)), *q = calloc(f, sizeof(double));
        double *qr = calloc(f, sizeof(double)), *mean = calloc(f, sizeof(double));
        fill_f(x, n, 1, 3);
        fill_f(dy, n, -1, 1);
        fill_f(g, f, 0.5f, 1.5f);
        fill_f(b, f, -1, 1);
        ck_batchnorm_sums_f64(s, x, rows, f);
        ck_batchnorm_sums_f64_ref(sr, x, rows, f);
        int ok = !memcmp(s, sr, f * sizeof(double));
        for (size_t j = 0; j < f; j++) mean[j] = sr[j] / (double)rows, m[j] = (float)mean[j];
        ck_batchnorm_sqdev_f64(q, mean, x, rows, f);
        ck_batchnorm_sqdev_f64_ref(qr, mean, x, rows, f);
        ok &= !memcmp(q, qr, f * sizeof(double));
        for (size_t j = 0; j < f; j++) rs[j] = (float)(1.0 / sqrt(qr[j] / (double)rows + 1e-3));
        ck_batchnorm_apply_f32(y, h, x, m, rs, g, b, rows, f);
        ck_batchnorm_apply_f32_ref(yr, hr, x, m, rs, g, b, rows, f);
        ok &= !memcmp(y, yr, n * sizeof(float)) && !memcmp(h, hr, n * sizeof(float));
        memset(s, 0, f * sizeof(double)), memset(sr, 0, f * sizeof(double));
        memset(q, 0, f * sizeof(double)), memset(qr, 0, f * sizeof(double));
        ck_batchnorm_backward_sums_f64(s, q, dy, hr, rows, f);
        ck_batchnorm_backward_sums_f64_ref(sr, qr, dy, hr, rows, f);
        ok &= !memcmp(s, sr, f * sizeof(double)) && !memcmp(q, qr, f * sizeof(double));
        ck_batchnorm_backward_dx_f32(dx, dy, hr, g, m, rs, rows, f);  // any (f) vectors will do here
        ck_batchnorm_backward_dx_f32_ref(dxr, dy, hr, g, m, rs, rows, f);
        ok &= !memcmp(dx, dxr, n * sizeof(float));
        char why[32];
        snprintf(why, sizeof why, "f=%zu", f);
        check(ok, "batchnorm exact", isa, why);
        free(x), free(dy), free(y), free(yr), free(h), free(hr), free(dx), free(dxr), free(m), free(rs), free(g), free(b);
        free(s), free(sr), free(q), free(qr), free(mean);
    }
}

// ck_sgemm_pack_b_kn packs B (k, n) for c = a·B; through ck_sgemm_packed it must match the float64 product.
static void test_pack_kn(const char* isa) {
    const size_t shapes[][3] = {{1, 1, 1}, {5, 17, 33}, {37, 40, 9}, {13, 100, 64}};
    for (size_t s = 0; s < 4; s++) {
        size_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2], ldb = n + 3;
        float *a = alloc_f(m * k), *b = alloc_f(k * ldb), *c = alloc_f(m * n), *t = alloc_f(m * k);
        float* packed = alloc_f(ck_sgemm_packed_size(n, k));
        fill_f(a, m * k, -1, 1);
        fill_f(b, k * ldb, -1, 1);
        ck_sgemm_pack_b_kn(b, ldb, k, n, packed);
        ck_sgemm_packed(a, k, packed, NULL, c, n, m, n, k, 0, n);
        double worst = 0;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double acc = 0;
                for (size_t kk = 0; kk < k; kk++) acc += (double)a[i * k + kk] * (double)b[kk * ldb + j];
                if (fabs(acc - c[i * n + j]) > worst) worst = fabs(acc - c[i * n + j]);
            }
        ck_transpose_f32(t, m, a, k, m, k);
        int exact = 1;
        for (size_t i = 0; i < m; i++)
            for (size_t kk = 0; kk < k; kk++) exact &= t[kk * m + i] == a[i * k + kk];
        char why[64];
        snprintf(why, sizeof why, "%zux%zux%zu worst %.2g", m, k, n, worst);
        check(worst <= 1e-5 * (double)k && exact, "pack_b_kn gemm / transpose", isa, why);
        free(a), free(b), free(c), free(t), free(packed);
    }
}

// ck_sgemm_tn_f32 (c += aᵀ·b over rows) against its twin bit for bit, on shapes that exercise every row-tile height,
// column tails on both vectors, several row blocks, split column ranges and split row ranges; plus the twin against a
// float64 product.
static void test_sgemm_tn(const char* isa) {
    const size_t shapes[][3] = {{1, 1, 1}, {7, 5, 9}, {300, 13, 17}, {600, 32, 9}, {257, 64, 288}, {33, 25, 50}, {129, 12, 33}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t rows = shapes[s][0], m = shapes[s][1], n = shapes[s][2], lda = m + 2, ldb = n + 3, ldc = n + 1;
        float *a = alloc_f(rows * lda), *b = alloc_f(rows * ldb), *c = alloc_f(m * ldc), *cr = alloc_f(m * ldc);
        float* c0 = alloc_f(m * ldc);
        fill_f(a, rows * lda, -1, 1);
        fill_f(b, rows * ldb, -1, 1);
        fill_f(c0, m * ldc, -1, 1);
        int exact = 1;
        // Whole range; then columns split at 16 / rows split in two (as the Swift callers thread it).
        for (int split = 0; split < 3; split++) {
            memcpy(c, c0, m * ldc * sizeof(float));
            memcpy(cr, c0, m * ldc * sizeof(float));
            size_t nm = split == 1 && n > 16 ? 16 : n, rm = split == 2 ? rows / 2 : rows;
            ck_sgemm_tn_f32(c, ldc, a, lda, b, ldb, 0, rm, m, 0, nm);
            ck_sgemm_tn_f32(c, ldc, a, lda, b, ldb, rm, rows, m, 0, nm);
            ck_sgemm_tn_f32(c, ldc, a, lda, b, ldb, 0, rows, m, nm, n);
            ck_sgemm_tn_f32_ref(cr, ldc, a, lda, b, ldb, 0, rows, m, 0, n);
            exact &= !memcmp(c, cr, m * ldc * sizeof(float));
        }
        double worst = 0;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double acc = c0[i * ldc + j];
                for (size_t r = 0; r < rows; r++) acc += (double)a[r * lda + i] * (double)b[r * ldb + j];
                if (fabs(acc - cr[i * ldc + j]) > worst) worst = fabs(acc - cr[i * ldc + j]);
            }
        char why[64];
        snprintf(why, sizeof why, "%zux%zux%zu worst %.2g", rows, m, n, worst);
        check(exact && worst <= 1e-6 * (double)rows, "sgemm_tn exact vs twin", isa, why);
        free(a), free(b), free(c), free(cr), free(c0);
    }
}

// ReLU backward (with and without the fused bias sums) and column sums, bit for bit against the twins; y has
// zeros, negatives, NaNs and dx aliases dy in one pass.
static void test_relu_backward(const char* isa) {
    const size_t shapes[][2] = {{1, 1}, {3, 7}, {65, 16}, {40, 33}, {9, 130}, {5, 3136}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1], count = rows * cols;
        float *y = alloc_f(count), *dy = alloc_f(count), *dx = alloc_f(count), *dxr = alloc_f(count);
        float *db = alloc_f(cols), *dbr = alloc_f(cols);
        fill_f(y, count, -1, 1);
        fill_f(dy, count, -2, 2);
        for (size_t i = 0; i < count; i += 7) y[i] = 0.0f;
        for (size_t i = 3; i < count; i += 11) y[i] = NAN;
        fill_f(db, cols, -1, 1);
        memcpy(dbr, db, cols * sizeof(float));
        int ok = 1;
        ck_relu_backward_f32(dx, dy, y, rows, cols, NULL);
        ck_relu_backward_f32_ref(dxr, dy, y, rows, cols, NULL);
        ok &= !memcmp(dx, dxr, count * sizeof(float));
        ck_relu_backward_f32(dx, dy, y, rows, cols, db);
        ck_relu_backward_f32_ref(dxr, dy, y, rows, cols, dbr);
        ok &= !memcmp(dx, dxr, count * sizeof(float)) && !memcmp(db, dbr, cols * sizeof(float));
        for (size_t i = 0; i < count; i++) ok &= dxr[i] == (y[i] <= 0.0f ? 0.0f : dy[i]);
        memcpy(dx, dy, count * sizeof(float));
        ck_relu_backward_f32(dx, dx, y, rows, cols, NULL);  // in place
        ok &= !memcmp(dx, dxr, count * sizeof(float));
        size_t half = cols > 1 ? cols / 2 : 1;
        ck_colsum_f32(db, dy, cols, rows, half);
        ck_colsum_f32_ref(dbr, dy, cols, rows, half);
        ok &= !memcmp(db, dbr, cols * sizeof(float));
        char why[48];
        snprintf(why, sizeof why, "%zux%zu", rows, cols);
        check(ok, "relu_backward / colsum exact", isa, why);
        free(y), free(dy), free(dx), free(dxr), free(db), free(dbr);
    }
}

static void test_f32(const char* isa) {
    test_gelu_vs_f64(isa);
    // GELU: |err| ≤ 2e-7 absolute, or ≤ 1.5 ulp-ish of the output (1.8e-7·|y|) where the output
    // itself is large enough that a 1-ulp rounding difference of the libm path exceeds 2e-7.
    test_rowwise(isa, "bias_gelu", ck_bias_gelu_f32, ck_bias_gelu_f32_ref, -10.0f, 10.0f, 2e-7, 1.8e-7);
    test_rowwise(isa, "bias_relu", ck_bias_relu_f32, relu_rowwise_ref, -3.0f, 3.0f, 0, 0);
    test_rowwise(isa, "bias_add", ck_bias_add_f32, ck_bias_add_f32_ref, -3.0f, 3.0f, 0, 0);
    test_unary(isa, "gelu sweep", gelu_unary, gelu_unary_ref, -10.0f, 10.0f, 2e-7, 1.8e-7);
    test_unary(isa, "sigmoid", ck_sigmoid_f32, ck_sigmoid_f32_ref, -30.0f, 30.0f, 1e-7, 1e-6);
    test_unary(isa, "tanh", ck_tanh_f32, ck_tanh_f32_ref, -12.0f, 12.0f, 1e-7, 1e-6);
    test_unary(isa, "relu", ck_relu_f32, ck_relu_f32_ref, -3.0f, 3.0f, 0, 0);
    test_unary(isa, "exp", ck_exp_f32, ck_exp_f32_ref, -87.0f, 88.0f, 0, 3e-7);
    test_layernorm(isa);
    test_softmax(isa);
    test_adamw(isa);
    test_window(isa);
    test_batchnorm(isa);
    test_pack_kn(isa);
    test_sgemm_tn(isa);
    test_relu_backward(isa);
}

// MARK: - int8

static void test_quantize(const char* isa) {
    int ok_u8 = 1, ok_s8 = 1;
    const size_t rows_list[] = {1, 3, 17};
    for (size_t ri = 0; ri < 3; ri++)
        for (size_t ci = 0; ci < N_SHAPES; ci++)
            for (int variant = 0; variant < 3; variant++) {
                size_t rows = rows_list[ri], k = SHAPES[ci];
                float* x = alloc_f(rows * k);
                // variant 0: mixed signs; 1: all positive (zp 0); 2: values on the .5 rounding grid
                for (size_t i = 0; i < rows * k; i++)
                    x[i] = variant == 0 ? rnd_f(-3.0f, 5.0f)
                         : variant == 1 ? rnd_f(0.1f, 2.0f)
                                        : (float)((int)(rnd_u32() % 255) - 127) * 0.5f;
                uint8_t *q = malloc(rows * k + 1), *qr = malloc(rows * k + 1);
                int8_t *s = malloc(rows * k + 1), *sr = malloc(rows * k + 1);
                float sc[17], scr[17];
                int32_t zp[17], zpr[17];
                ck_quantize_rows_u8(x, rows, k, q, sc, zp);
                ck_quantize_rows_u8_ref(x, rows, k, qr, scr, zpr);
                ok_u8 &= !memcmp(q, qr, rows * k) && !memcmp(sc, scr, rows * sizeof(float)) &&
                         !memcmp(zp, zpr, rows * sizeof(int32_t));
                ck_quantize_rows_s8(x, rows, k, s, sc);
                ck_quantize_rows_s8_ref(x, rows, k, sr, scr);
                ok_s8 &= !memcmp(s, sr, rows * k) && !memcmp(sc, scr, rows * sizeof(float));
                // Round trip: dequantized values within half a step of the input.
                float* back = alloc_f(rows * k);
                ck_dequantize_rows_u8(qr, scr, zpr, rows, k, back);
                ck_quantize_rows_u8_ref(x, rows, k, qr, scr, zpr);
                ck_dequantize_rows_u8(qr, scr, zpr, rows, k, back);
                for (size_t i = 0; i < rows * k; i++) ok_u8 &= fabsf(back[i] - x[i]) <= 0.5f * scr[i / k] * 1.001f + 1e-7f;
                ck_dequantize_rows_s8(sr, scr, rows, k, back);
                ck_quantize_rows_s8_ref(x, rows, k, sr, scr);
                ck_dequantize_rows_s8(sr, scr, rows, k, back);
                for (size_t i = 0; i < rows * k; i++) ok_s8 &= fabsf(back[i] - x[i]) <= 0.5f * scr[i / k] * 1.001f + 1e-7f;
                free(x), free(q), free(qr), free(s), free(sr), free(back);
            }
    check(ok_u8, "quantize_rows_u8 exact + round trip", isa, "");
    check(ok_s8, "quantize_rows_s8 exact + round trip", isa, "");
    printf("  [%s] %-22s %s\n", isa, "quantize u8/s8", ok_u8 && ok_s8 ? "exact match" : "MISMATCH");
}

typedef enum { W_RANDOM, W_EXTREME, W_M128 } wkind;

// One GEMM case: s32 vs a naive loop on the unpacked weights and vs the twin; f32 vs the twin, bitwise.
static int gemm_case(size_t m, size_t n, size_t k, size_t n0, size_t n1, wkind kind, char* why, size_t why_len) {
    size_t lda = k + (m % 3);  // exercise lda > k sometimes
    size_t ldc = n + 1;
    uint8_t* a = malloc(m * lda + 1);
    int8_t* w = malloc(n * k + 1);
    for (size_t i = 0; i < m * lda; i++) a[i] = kind == W_EXTREME ? 255 : (uint8_t)rnd_u32();
    for (size_t i = 0; i < n * k; i++) {
        if (kind == W_EXTREME) w[i] = (i / k) % 2 ? 127 : -127;
        else if (kind == W_M128) w[i] = (int8_t)(rnd_u32() & 0xff);
        else w[i] = (int8_t)((int)(rnd_u32() % 255) - 127);
    }
    int32_t* zp = malloc((m + 1) * sizeof(int32_t));
    float* as = alloc_f(m);
    float* bs = alloc_f(n);
    float* bias = alloc_f(n);
    for (size_t i = 0; i < m; i++) zp[i] = (int32_t)(rnd_u32() % 256), as[i] = rnd_f(0.001f, 0.05f);
    for (size_t j = 0; j < n; j++) bs[j] = rnd_f(0.001f, 0.02f), bias[j] = rnd_f(-1.0f, 1.0f);
    void* pb = aligned_alloc(64, (ck_packed_b_size(n, k) + 63) / 64 * 64);
    ck_pack_b_s8(w, n, k, pb);

    const int32_t SENT = 0x7eadbeef;
    int32_t* c = malloc(m * ldc * sizeof(int32_t));
    int32_t* cr = malloc(m * ldc * sizeof(int32_t));
    float* f = alloc_f(m * ldc);
    float* fr = alloc_f(m * ldc);
    int ok = 1;
    for (int with_zp = 0; with_zp < 2 && ok; with_zp++) {
        for (size_t i = 0; i < m * ldc; i++) c[i] = cr[i] = SENT;
        ck_gemm_u8s8_s32(a, lda, with_zp ? zp : NULL, pb, c, ldc, m, n, k, n0, n1);
        ck_gemm_u8s8_s32_ref(a, lda, with_zp ? zp : NULL, pb, cr, ldc, m, n, k, n0, n1);
        for (size_t i = 0; i < m && ok; i++)
            for (size_t j = 0; j < ldc && ok; j++) {
                int32_t expect = SENT;
                if (j >= n0 && j < n1) {
                    int64_t s = 0, cs = 0;
                    for (size_t t = 0; t < k; t++) s += (int64_t)a[i * lda + t] * w[j * k + t], cs += w[j * k + t];
                    expect = (int32_t)(s - (with_zp ? zp[i] : 0) * cs);
                }
                if (c[i * ldc + j] != expect || cr[i * ldc + j] != expect) {
                    snprintf(why, why_len, "s32 zp=%d at (%zu,%zu): got %d ref %d naive %d", with_zp, i, j,
                             c[i * ldc + j], cr[i * ldc + j], expect);
                    ok = 0;
                }
            }
    }
    for (int with_bias = 0; with_bias < 2 && ok; with_bias++) {
        for (size_t i = 0; i < m * ldc; i++) f[i] = fr[i] = -12345.0f;
        ck_gemm_u8s8_f32(a, lda, as, zp, pb, bs, with_bias ? bias : NULL, f, ldc, m, n, k, n0, n1);
        ck_gemm_u8s8_f32_ref(a, lda, as, zp, pb, bs, with_bias ? bias : NULL, fr, ldc, m, n, k, n0, n1);
        if (memcmp(f, fr, m * ldc * sizeof(float))) {
            for (size_t i = 0; i < m * ldc; i++)
                if (memcmp(&f[i], &fr[i], sizeof(float))) {
                    snprintf(why, why_len, "f32 bias=%d at %zu: %.9g vs ref %.9g", with_bias, i, f[i], fr[i]);
                    break;
                }
            ok = 0;
        }
    }
    free(a), free(w), free(zp), free(as), free(bs), free(bias), free(pb), free(c), free(cr), free(f), free(fr);
    return ok;
}

static void test_gemm_u8s8(const char* isa) {
    const size_t ms[] = {1, 2, 3, 7, 15, 16, 17, 33, 100};
    int cases = 0, bad = 0;
    char why[200] = "";
    for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
        for (size_t ni = 0; ni < N_SHAPES; ni++)
            for (size_t ki = 0; ki < N_SHAPES; ki++) {
                size_t m = ms[mi], n = SHAPES[ni], k = SHAPES[ki];
                if (m * n * k > 3000000) continue;
                cases++;
                if (!gemm_case(m, n, k, 0, n, W_RANDOM, why, sizeof why)) {
                    if (!bad) printf("    first failure m=%zu n=%zu k=%zu: %s\n", m, n, k, why);
                    bad++;
                }
            }
    // Column ranges as Swift threads would split them, including non-multiples of 16.
    const size_t ranges[][5] = {{16, 100, 33, 5, 61}, {1, 1536, 384, 768, 1536}, {7, 384, 31, 17, 18},
                                {3, 33, 7, 32, 33},   {16, 1536, 384, 0, 1536},  {1, 384, 1536, 0, 384},
                                {64, 384, 1536, 100, 300}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        cases++;
        if (!gemm_case(ranges[r][0], ranges[r][1], ranges[r][2], ranges[r][3], ranges[r][4], W_RANDOM, why, sizeof why)) {
            if (!bad) printf("    first failure (range case %zu): %s\n", r, why);
            bad++;
        }
    }
    // Worst case for int16 saturation (a = 255, |w| = 127) and weights containing -128.
    const size_t extremes[][3] = {{4, 16, 1536}, {1, 17, 33}, {5, 33, 384}};
    for (size_t e = 0; e < 3; e++)
        for (int kind = W_EXTREME; kind <= W_M128; kind++) {
            cases++;
            if (!gemm_case(extremes[e][0], extremes[e][1], extremes[e][2], 0, extremes[e][1], (wkind)kind, why, sizeof why)) {
                if (!bad) printf("    first failure (extreme %zu kind %d): %s\n", e, kind, why);
                bad++;
            }
        }
    char detail[120];
    snprintf(detail, sizeof detail, "%d shapes, %d mismatches (exact s32 + bitwise f32)", cases, bad);
    check(bad == 0, "gemm_u8s8", isa, detail);
    printf("  [%s] %-22s %s\n", isa, "gemm_u8s8", detail);
}

// MARK: - int4

static void test_q4(const char* isa) {
    int cases = 0, bad = 0;
    double worst = 0;
    const size_t ms[] = {1, 2, 3, 4, 5, 7, 16, 17};
    for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
        for (size_t ni = 0; ni < N_SHAPES; ni++)
            for (size_t ki = 0; ki < N_SHAPES; ki++) {
                size_t m = ms[mi], n = SHAPES[ni], k = SHAPES[ki];
                if (m * n * k > 3000000) continue;
                size_t nb = ck_q4_blocks_per_row(k), lda = k + 1, ldc = n + 2;
                float* a = alloc_f(m * lda);
                float* w = alloc_f(n * k);
                float* wd = alloc_f(n * k);
                float* bias = alloc_f(n);
                fill_f(a, m * lda, -1.0f, 1.0f);
                fill_f(w, n * k, -0.2f, 0.2f);
                fill_f(bias, n, -1.0f, 1.0f);
                ck_block_q4* blocks = malloc(n * nb * sizeof(ck_block_q4));
                ck_quantize_q4_ref(w, n, k, blocks);
                ck_dequantize_q4(blocks, n, k, wd);
                int ok = 1;
                // Quantization error: within half a step, except +8·|d| (the far end, clamped to code 15),
                // which is off by one full step.
                for (size_t j = 0; j < n; j++)
                    for (size_t t = 0; t < k; t++) {
                        float d = fabsf(blocks[j * nb + t / 32].d), e = fabsf(wd[j * k + t] - w[j * k + t]);
                        ok &= e <= 0.5f * d * 1.001f + 1e-7f || (e <= d * 1.001f && fabsf(w[j * k + t]) > 7.4f * d);
                    }
                size_t n0 = n > 5 ? 3 : 0, n1 = n > 5 ? n - 1 : n;
                float* c = alloc_f(m * ldc);
                float* cr = alloc_f(m * ldc);
                for (size_t i = 0; i < m * ldc; i++) c[i] = cr[i] = -777.0f;
                const float* b = (ki % 2) ? bias : NULL;
                ck_gemm_q4_f32(a, lda, blocks, b, c, ldc, m, n, k, n0, n1);
                ck_gemm_q4_f32_ref(a, lda, blocks, b, cr, ldc, m, n, k, n0, n1);
                for (size_t i = 0; i < m; i++)
                    for (size_t j = 0; j < ldc; j++) {
                        float got = c[i * ldc + j], ref = cr[i * ldc + j];
                        if (j < n0 || j >= n1) {
                            ok &= got == -777.0f && ref == -777.0f;
                            continue;
                        }
                        // Tolerance scales with Σ|a·w| (reordered float sums); also check the naive
                        // dequantized product, which validates the twin itself.
                        double mag = 0, naive = b ? b[j] : 0;
                        for (size_t t = 0; t < k; t++)
                            mag += fabs(a[i * lda + t] * wd[j * k + t]), naive += (double)a[i * lda + t] * wd[j * k + t];
                        double tol = 2e-6 * mag + 1e-6;
                        double r = fabs(got - ref) / tol;
                        if (r > worst) worst = r;
                        ok &= r <= 1.0 && fabs(ref - naive) <= tol;
                    }
                cases++;
                if (!ok) {
                    if (!bad) printf("    first q4 failure m=%zu n=%zu k=%zu\n", m, n, k);
                    bad++;
                }
                free(a), free(w), free(wd), free(bias), free(blocks), free(c), free(cr);
            }
    char detail[160];
    snprintf(detail, sizeof detail, "%d shapes, %d failures (worst/tol %.3g, tol 2e-6·Σ|a·w|)", cases, bad, worst);
    check(bad == 0, "gemm_q4", isa, detail);
    printf("  [%s] %-22s %s\n", isa, "gemm_q4", detail);
}

static void test_int(const char* isa) {
    test_quantize(isa);
    test_gemm_u8s8(isa);
    test_q4(isa);
}

static void test_pooling(void) {
    // Scalar-only helpers: check against their definitions on a small case computed here in double.
    float x[3 * 4] = {1, 2, 3, 4, -1, 0, 2, 8, 5, 5, 5, 5};
    float mask[3] = {1, 1, 0};
    float out[4];
    ck_masked_mean_rows_f32(x, mask, 3, 4, out);
    int ok = 1;
    for (int c = 0; c < 4; c++) ok &= fabsf(out[c] - (x[c] + x[4 + c]) / 2.0f) < 1e-7f;
    check(ok, "masked_mean_rows", "scalar", "");
    ck_l2_normalize_rows_f32(x, 3, 4, 1e-12f);
    for (int r = 0; r < 3; r++) {
        double ss = 0;
        for (int c = 0; c < 4; c++) ss += (double)x[r * 4 + c] * x[r * 4 + c];
        ok &= fabs(ss - 1.0) < 1e-6;
    }
    float zero[4] = {0, 0, 0, 0};
    ck_l2_normalize_rows_f32(zero, 1, 4, 1e-12f);
    ok &= zero[0] == 0.0f;
    check(ok, "l2_normalize_rows", "scalar", "");
}


// Sparse CSR kernel against a dense float64 product of the same masked weight, on random masks (densities 0 … 1),
// row counts on both sides of the gather / transposed-tile switch and tile tails, and split output ranges.
static void test_spmm(const char* isa) {
    const size_t ns[] = {1, 17, 64, 100};
    const size_t ks[] = {1, 15, 33, 384};
    const size_t rows_list[] = {1, 2, 3, 8, 17, 33};
    const double dens[] = {0.0, 0.05, 0.3, 1.0};
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 4; b++)
            for (size_t d = 0; d < 4; d++)
                for (size_t ri = 0; ri < 6; ri++) {
                    size_t n = ns[a], k = ks[b], m = rows_list[ri];
                    float* w = alloc_f(n * k);
                    float* x = alloc_f(m * k);
                    float* y = alloc_f(m * n);
                    float* yref = alloc_f(m * n);
                    float* scratch = alloc_f(ck_spmm_scratch_floats(k));
                    int32_t* rowptr = malloc(sizeof(int32_t) * (n + 1));
                    uint16_t* cols = malloc(sizeof(uint16_t) * (n * k + 1));
                    float* vals = alloc_f(n * k);
                    int nnz = 0;
                    rowptr[0] = 0;
                    for (size_t o = 0; o < n; o++) {
                        for (size_t j = 0; j < k; j++) {
                            float v = rnd_f(0, 1) < dens[d] ? rnd_f(-1, 1) : 0.0f;
                            w[o * k + j] = v;
                            if (v != 0.0f) { cols[nnz] = (uint16_t)j; vals[nnz++] = v; }
                        }
                        rowptr[o + 1] = nnz;
                    }
                    fill_f(x, m * k, -2, 2);
                    // The float32 sum's error scales with Σ|w·x|, not with the result (which cancels towards 0), so
                    // the tolerance is 2e-6·Σ|w·x| as for gemm_q4 (a fixed 1e-5 failed on a cancelling sum of 384
                    // terms at 2.1e-5 once the random stream shifted).
                    double* sabs = malloc(sizeof(double) * m * n);
                    for (size_t r = 0; r < m; r++)
                        for (size_t o = 0; o < n; o++) {
                            double s = 0, sa = 0;
                            for (size_t j = 0; j < k; j++) {
                                s += (double)w[o * k + j] * x[r * k + j];
                                sa += fabs((double)w[o * k + j] * x[r * k + j]);
                            }
                            yref[r * n + o] = (float)s;
                            sabs[r * n + o] = sa;
                        }
                    // Two output ranges, as two threads would compute them.
                    size_t half = n / 2;
                    ck_spmm_csr_f32(rowptr, cols, vals, 0, half, x, k, m, y, n, scratch);
                    ck_spmm_csr_f32(rowptr, cols, vals, half, n, x, k, m, y, n, scratch);
                    double mabs = 0, worst = 0;
                    for (size_t i = 0; i < m * n; i++) {
                        double d = fabs((double)y[i] - yref[i]), tol = 2e-6 * sabs[i] + 1e-7;
                        if (d > mabs) mabs = d;
                        if (d / tol > worst) worst = d / tol;
                    }
                    free(sabs);
                    char detail[128];
                    snprintf(detail, sizeof detail, "n=%zu k=%zu rows=%zu density=%.2f max|d|=%.3g", n, k, m, dens[d], mabs);
                    check(worst <= 1, "ck_spmm_csr_f32 vs dense", isa, detail);
                    free(w); free(x); free(y); free(yref); free(scratch); free(rowptr); free(cols); free(vals);
                }
}

// Sparse int8 (b4 blocks) against the dense u8×s8 kernel on the same masked weight: bit for bit, on random masks
// (densities 0 … 1), k not a multiple of 4, row counts on both sides of the gather / tile switch and tile tails,
// split output ranges, with and without bias. Dense runs as its scalar twin and at the same ISA level.
static void test_spmm_b4(const char* isa) {
    const size_t ns[] = {1, 17, 64};
    const size_t ks[] = {1, 6, 33, 384};
    const size_t rows_list[] = {1, 2, 3, 8, 17, 33};
    const double dens[] = {0.0, 0.05, 0.3, 1.0};
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 4; b++)
            for (size_t d = 0; d < 4; d++)
                for (size_t ri = 0; ri < 6; ri++) {
                    size_t n = ns[a], k = ks[b], m = rows_list[ri];
                    int8_t* w = malloc(n * k);
                    for (size_t i = 0; i < n * k; i++)
                        w[i] = rnd_f(0, 1) < dens[d] ? (int8_t)((int)(rnd_u32() % 255) - 127) : 0;
                    float* x = alloc_f(m * k);
                    fill_f(x, m * k, -3, 2);
                    uint8_t* q = malloc(m * k);
                    float* sa = alloc_f(m);
                    int32_t* zp = malloc(sizeof(int32_t) * m);
                    ck_quantize_rows_u8_ref(x, m, k, q, sa, zp);
                    float* sb = alloc_f(n);
                    float* bias = alloc_f(n);
                    fill_f(sb, n, 0.001f, 0.05f);
                    fill_f(bias, n, -1, 1);
                    void* packed = malloc(ck_packed_b_size(n, k));
                    ck_pack_b_s8(w, n, k, packed);
                    size_t blocks = ck_b4_count_blocks(w, n, k);
                    int32_t* starts = malloc(sizeof(int32_t) * (n + 1));
                    uint16_t* groups = malloc(sizeof(uint16_t) * (blocks + 1));
                    int8_t* values = malloc(4 * blocks + 4);
                    int32_t* colsum = malloc(sizeof(int32_t) * n);
                    ck_b4_pack_s8(w, n, k, starts, groups, values, colsum);
                    void* scratch = malloc(ck_spmm_b4_scratch_bytes(k));
                    float* y = alloc_f(m * n);
                    float* yref = alloc_f(m * n);
                    float* ydense = alloc_f(m * n);
                    for (int with_bias = 0; with_bias < 2; with_bias++) {
                        const float* bp = with_bias ? bias : NULL;
                        ck_gemm_u8s8_f32_ref(q, k, sa, zp, packed, sb, bp, yref, n, m, n, k, 0, n);
                        ck_gemm_u8s8_f32(q, k, sa, zp, packed, sb, bp, ydense, n, m, n, k, 0, n);
                        size_t half = n / 2;
                        memset(y, 0xff, sizeof(float) * m * n);
                        ck_spmm_b4_u8s8_f32(starts, groups, values, colsum, 0, half, q, k, m, sa, zp, sb, bp, y, n, scratch);
                        ck_spmm_b4_u8s8_f32(starts, groups, values, colsum, half, n, q, k, m, sa, zp, sb, bp, y, n, scratch);
                        char detail[128];
                        snprintf(detail, sizeof detail, "n=%zu k=%zu rows=%zu density=%.2f bias=%d", n, k, m, dens[d], with_bias);
                        check(memcmp(y, yref, sizeof(float) * m * n) == 0, "ck_spmm_b4_u8s8_f32 vs dense ref", isa, detail);
                        check(memcmp(y, ydense, sizeof(float) * m * n) == 0, "ck_spmm_b4_u8s8_f32 vs dense same ISA", isa, detail);
                    }
                    free(w); free(x); free(q); free(sa); free(zp); free(sb); free(bias); free(packed); free(starts);
                    free(groups); free(values); free(colsum); free(scratch); free(y); free(yref); free(ydense);
                }
}

static void run_level(int level, void (*body)(const char*)) {
    int available = ck_set_isa_cap(-1);  // hardware level, lowered by COMPRESS_ISA if set
    if (level > available) {
        printf("(skipping %s: not supported by this CPU or capped by COMPRESS_ISA)\n", ck_isa_name(level));
        return;
    }
    int got = ck_set_isa_cap(level);
    check(got == level, "ck_set_isa_cap", ck_isa_name(level), "level not applied");
    body(ck_isa_name(level));
}

int main(void) {
    printf("CPU level: %s (ck_isa %s)\n", ck_isa_name(ck_isa_detected()), ck_isa_name(ck_isa()));
    for (int level = CK_ISA_SCALAR; level <= CK_ISA_AVX512; level++) run_level(level, test_f32);
    for (int level = CK_ISA_SCALAR; level <= CK_ISA_AVX512; level++) run_level(level, test_int);
    for (int level = CK_ISA_SCALAR; level <= CK_ISA_AVX512; level++) run_level(level, test_spmm);
    for (int level = CK_ISA_SCALAR; level <= CK_ISA_AVX512; level++) run_level(level, test_spmm_b4);
    test_pooling();
    ck_set_isa_cap(-1);
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
