// Tests for the pre-packed fp32 GEMM (ck_sgemm_*) and the fused attention head (ck_attention_head_f32), at every
// ISA level this CPU has: GEMM against the naive double-precision ck_sgemm_ref_unpacked (|diff| ≤ 1e-5·(|bias| + Σ|a·w|))
// and its packed scalar twin; attention against its scalar twin (2e-6 relative) and a double-precision
// reference. Odd shapes, strides, column ranges, and guard zones around every output and the scratch.
// Run via Tests/CKernelsC/run_sgemm.sh.
#include "CKernels.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int n_passed = 0, n_failed = 0;

static void check(int ok, const char* isa, const char* fmt_what) {
    if (ok) {
        n_passed++;
    } else {
        n_failed++;
        printf("FAIL [%s] %s\n", isa, fmt_what);
    }
}

// xorshift: deterministic data without depending on libc rand().
static uint64_t rng_state = 0x2545f4914f6cdd1dull;
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
static float* alloc_f(size_t n) { return (float*)aligned_alloc(64, ((n ? n : 1) * sizeof(float) + 63) / 64 * 64); }

// Writes outside what a kernel may touch must leave this value alone.
#define GUARD 12345.0f
#define GUARD_N 32  // floats of guard after every buffer

// MARK: - sgemm

static void test_pack_layout(void) {
    const size_t n = 37, k = 5;
    float* w = alloc_f(n * k);
    fill_f(w, n * k, -1, 1);
    size_t size = ck_sgemm_packed_size(n, k);
    float* packed = alloc_f(size);
    ck_sgemm_pack_b(w, n, k, packed);
    int ok = size == 3 * k * CK_SGEMM_PANEL;
    for (size_t p = 0; p < 3; p++)
        for (size_t kk = 0; kk < k; kk++)
            for (size_t j = 0; j < CK_SGEMM_PANEL; j++) {
                size_t row = p * CK_SGEMM_PANEL + j;
                float want = row < n ? w[row * k + kk] : 0.0f;
                ok &= packed[(p * k + kk) * CK_SGEMM_PANEL + j] == want;
            }
    check(ok, "any", "ck_sgemm_pack_b layout packed[(p·k + kk)·16 + j] = W[p·16 + j, kk], zero padded");
    free(w);
    free(packed);
}

// One GEMM shape: c computed in column chunks [n0, n1) on panel boundaries, with row strides lda > k, ldc > n.
static void test_sgemm_shape(const char* isa, size_t m, size_t n, size_t k, int with_bias, size_t chunk_panels) {
    size_t lda = k + 3, ldc = n + 5;
    float* a = alloc_f(m * lda);
    float* w = alloc_f(n * k);
    float* bias = alloc_f(n);
    fill_f(a, m * lda, -1, 1);
    fill_f(w, n * k, -1, 1);
    fill_f(bias, n, -1, 1);
    float* packed = alloc_f(ck_sgemm_packed_size(n, k) + GUARD_N);
    ck_sgemm_pack_b(w, n, k, packed);
    float* c = alloc_f(m * ldc + GUARD_N);
    float* twin = alloc_f(m * ldc + GUARD_N);
    float* exact = alloc_f(m * ldc);
    for (size_t i = 0; i < m * ldc + GUARD_N; i++) c[i] = twin[i] = GUARD;
    const float* b = with_bias ? bias : NULL;

    size_t step = chunk_panels * CK_SGEMM_PANEL;
    for (size_t n0 = 0; n0 < n; n0 += step) ck_sgemm_packed(a, lda, packed, b, c, ldc, m, n, k, n0, n0 + step < n ? n0 + step : n);
    ck_sgemm_packed_ref(a, lda, packed, b, twin, ldc, m, n, k, 0, n);
    ck_sgemm_ref_unpacked(a, lda, w, b, exact, ldc, m, n, k);

    double worst = 0, worst_twin = 0;
    int guards = 1;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double mag = b ? fabs((double)b[j]) : 0;  // the bias add rounds relative to it too
            for (size_t t = 0; t < k; t++) mag += fabs((double)a[i * lda + t] * (double)w[j * k + t]);
            double tol = 1e-5 * mag + 1e-30;
            double r = fabs((double)c[i * ldc + j] - (double)exact[i * ldc + j]) / tol;
            double rt = fabs((double)c[i * ldc + j] - (double)twin[i * ldc + j]) / tol;
            if (!(r <= worst)) worst = r;  // NaN-safe: a NaN makes worst NaN
            if (!(rt <= worst_twin)) worst_twin = rt;
        }
        for (size_t j = n; j < ldc; j++) guards &= c[i * ldc + j] == GUARD;
    }
    for (size_t i = m * ldc; i < m * ldc + GUARD_N; i++) guards &= c[i] == GUARD;
    char what[160];
    snprintf(what, sizeof what, "sgemm m=%zu n=%zu k=%zu bias=%d chunk=%zu: vs exact %.3g, vs twin %.3g (of tol)", m, n, k,
             with_bias, chunk_panels, worst, worst_twin);
    check(worst <= 1 && worst_twin <= 1, isa, what);
    snprintf(what, sizeof what, "sgemm m=%zu n=%zu k=%zu: wrote outside c[:, 0:n]", m, n, k);
    check(guards, isa, what);
    free(a);
    free(w);
    free(bias);
    free(packed);
    free(c);
    free(twin);
    free(exact);
}

// A column range that does not start at 0 writes only its own columns.
static void test_sgemm_range(const char* isa) {
    const size_t m = 13, n = 100, k = 29, n0 = 32, n1 = 71;
    float* a = alloc_f(m * k);
    float* w = alloc_f(n * k);
    fill_f(a, m * k, -1, 1);
    fill_f(w, n * k, -1, 1);
    float* packed = alloc_f(ck_sgemm_packed_size(n, k));
    ck_sgemm_pack_b(w, n, k, packed);
    float* c = alloc_f(m * n);
    float* exact = alloc_f(m * n);
    for (size_t i = 0; i < m * n; i++) c[i] = GUARD;
    ck_sgemm_packed(a, k, packed, NULL, c, n, m, n, k, n0, n1);
    ck_sgemm_ref_unpacked(a, k, w, NULL, exact, n, m, n, k);
    int ok = 1;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            if (j >= n0 && j < n1) ok &= fabsf(c[i * n + j] - exact[i * n + j]) <= 1e-4f;
            else ok &= c[i * n + j] == GUARD;
        }
    check(ok, isa, "sgemm column range [32, 71) writes exactly those columns");
    free(a);
    free(w);
    free(packed);
    free(c);
    free(exact);
}

static void test_sgemm(const char* isa) {
    const size_t ms[] = {1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 23, 24, 25, 37, 64};
    const size_t ns[] = {1, 5, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100};
    const size_t ks[] = {1, 2, 3, 7, 16, 33, 128};
    for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
            for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
                size_t chunk = 1 + (mi + ni + ki) % 3;  // 1, 2 or 3 panels per call
                test_sgemm_shape(isa, ms[mi], ns[ni], ks[ki], (int)((mi + ki) % 2), chunk);
            }
    // MiniLM's shapes (m = tokens, n = out, k = in), one call over all columns and two-panel thread chunks.
    const size_t big[][3] = {{23, 1152, 384}, {23, 384, 1536}, {1, 1536, 384}, {130, 384, 384}};
    for (size_t s = 0; s < sizeof big / sizeof *big; s++) {
        test_sgemm_shape(isa, big[s][0], big[s][1], big[s][2], 1, 1000);
        test_sgemm_shape(isa, big[s][0], big[s][1], big[s][2], 0, 2);
    }
    test_sgemm_range(isa);
}

// MARK: - attention

// ctx = softmax(scale · q·kᵀ)·v in double, for one head. Returns the largest scale·Σ_d |q·k|: fp32 logits carry an
// absolute error of about that times FLT_EPSILON, which exp turns into a relative error of the output.
static double attention_exact(const float* q, const float* k, const float* v, size_t ld, size_t len, size_t dh,
                              float scale, double* out) {
    double cond = 0;
    double* s = malloc(sizeof(double) * len);
    for (size_t i = 0; i < len; i++) {
        double mx = -INFINITY, sum = 0;
        for (size_t j = 0; j < len; j++) {
            double acc = 0, mag = 0;
            for (size_t d = 0; d < dh; d++) {
                acc += (double)q[i * ld + d] * (double)k[j * ld + d];
                mag += fabs((double)q[i * ld + d] * (double)k[j * ld + d]);
            }
            s[j] = acc * scale;
            if (mag * scale > cond) cond = mag * scale;
            if (s[j] > mx) mx = s[j];
        }
        for (size_t j = 0; j < len; j++) sum += s[j] = exp(s[j] - mx);
        for (size_t d = 0; d < dh; d++) {
            double acc = 0;
            for (size_t j = 0; j < len; j++) acc += s[j] * (double)v[j * ld + d];
            out[i * dh + d] = acc / sum;
        }
    }
    free(s);
    return cond;
}

// Three heads side by side in a (len, 3·H) QKV matrix; each head written into its columns of a (len, H) context.
static void test_attention_shape(const char* isa, size_t len, size_t dh, float spread) {
    const size_t heads = 3, h = heads * dh, ld = 3 * h;
    float* qkv = alloc_f(len * ld);
    fill_f(qkv, len * ld, -spread, spread);
    size_t scratch_n = ck_attention_scratch_size(len, dh);
    float* scratch = alloc_f(scratch_n + GUARD_N);
    for (size_t i = scratch_n; i < scratch_n + GUARD_N; i++) scratch[i] = GUARD;
    float* out = alloc_f(len * h + GUARD_N);
    float* twin = alloc_f(len * h);
    double* exact = malloc(sizeof(double) * len * dh);
    for (size_t i = 0; i < len * h + GUARD_N; i++) out[i] = GUARD;
    float scale = 1.0f / sqrtf((float)dh);
    double worst_twin = 0, worst_exact = 0, worst_cond = 0;
    int guards = 1;
    for (size_t head = 0; head < heads; head++) {
        const float* q = qkv + head * dh;
        ck_attention_head_f32(q, q + h, q + 2 * h, ld, len, dh, scale, out + head * dh, h, scratch);
        // Columns of later heads are still untouched.
        for (size_t i = 0; i < len; i++)
            for (size_t c = (head + 1) * dh; c < h; c++) guards &= out[i * h + c] == GUARD;
        ck_attention_head_f32_ref(q, q + h, q + 2 * h, ld, len, dh, scale, twin + head * dh, h, scratch);
        double cond = attention_exact(q, q + h, q + 2 * h, ld, len, dh, scale, exact);
        if (cond > worst_cond) worst_cond = cond;
        for (size_t i = 0; i < len; i++)
            for (size_t d = 0; d < dh; d++) {
                double got = out[i * h + head * dh + d], tw = twin[i * h + head * dh + d], ex = exact[i * dh + d];
                double rt = fabs(got - tw) / fmax(1.0, fabs(tw)), re = fabs(got - ex) / fmax(1.0, fabs(ex));
                if (!(rt <= worst_twin)) worst_twin = rt;
                if (!(re <= worst_exact)) worst_exact = re;
            }
    }
    for (size_t i = scratch_n; i < scratch_n + GUARD_N; i++) guards &= scratch[i] == GUARD;
    for (size_t i = len * h; i < len * h + GUARD_N; i++) guards &= out[i] == GUARD;
    // 2e-6 relative for ordinary logits; peaked ones (spread > 1) may differ by their own fp32 rounding, 4·cond·ε.
    double tol = fmax(2e-6, 4 * worst_cond * 1.1920929e-7);
    char what[200];
    snprintf(what, sizeof what, "attention len=%zu dh=%zu spread=%g: vs twin %.3g, vs double %.3g (tol %.3g, 5x that)",
             len, dh, spread, worst_twin, worst_exact, tol);
    check(worst_twin <= tol && worst_exact <= 5 * tol, isa, what);
    snprintf(what, sizeof what, "attention len=%zu dh=%zu: wrote outside its head's columns or its scratch", len, dh);
    check(guards, isa, what);
    free(qkv);
    free(scratch);
    free(out);
    free(twin);
    free(exact);
}

static void test_attention(const char* isa) {
    const size_t lens[] = {1, 2, 3, 5, 6, 7, 8, 12, 13, 15, 16, 17, 23, 31, 33, 64, 65, 100, 129};
    const size_t dhs[] = {32, 64, 1, 3, 7, 8, 15, 16, 17, 24, 33, 48, 65, 80};
    for (size_t li = 0; li < sizeof lens / sizeof *lens; li++)
        for (size_t di = 0; di < sizeof dhs / sizeof *dhs; di++)
            test_attention_shape(isa, lens[li], dhs[di], 1.0f);
    // Long sequences at MiniLM's and BERT-base's head sizes; larger logits make a peaked softmax.
    test_attention_shape(isa, 512, 32, 1.0f);
    test_attention_shape(isa, 512, 64, 1.0f);
    test_attention_shape(isa, 300, 32, 3.0f);
    test_attention_shape(isa, 37, 64, 4.0f);
}

int main(void) {
    test_pack_layout();
    int top = ck_isa_detected();
    for (int level = top; level >= CK_ISA_SCALAR; level--) {
        ck_set_isa_cap(level);
        const char* isa = ck_isa_name(ck_isa());
        int before = n_failed;
        test_sgemm(isa);
        test_attention(isa);
        printf("[%s] %s\n", isa, n_failed == before ? "ok" : "FAILURES");
    }
    ck_set_isa_cap(-1);
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
