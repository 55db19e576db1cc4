/* Kernel fuzzing of runtime_c/snnc_dense.c: random shapes, weights (including -128 and the
 * int16 limits of the 16-bit event sums), biases, output shifts (weight exponents 0..6),
 * binary and multi-level inputs; every kernel against a plain int64 reference. Returns 0 if all agree. Built by test_kernels.py for the
 * host (sanitizers) and for Cortex-M4 and Cortex-M55 under QEMU. */
#include <stdint.h>
#include <string.h>
#include "snnc_dense.h"

#ifndef KB_SEED
#define KB_SEED 12345u
#endif
static uint32_t seed = KB_SEED;
static uint32_t rnd(void) { seed = seed * 1664525u + 1013904223u; return seed >> 8; }
static int8_t rw(int lim) { return (int8_t)((int32_t)(rnd() % (uint32_t)(2 * lim + 1)) - lim); }

#define MAXI 300
#define MAXO 64
#define MAXR 3
static int8_t W[MAXO * MAXI], WB[MAXO * MAXI + 4], WT[MAXI * MAXO];
static int8_t X[MAXR * MAXI];
static int32_t B[MAXO];
static int32_t Y[MAXR * MAXO], R[MAXR * MAXO];
static int32_t S[4 * MAXI];
static uint16_t IDX[MAXR * MAXI];
static int32_t RP[MAXI + 1];
static uint16_t CI[MAXI * MAXO];
static uint32_t CW[MAXI * MAXO];
static int8_t CV[MAXI * MAXO];

static void block(int n_in, int n_out) {
    int G = n_in / 4, t = n_in % 4, nb = n_out / 4, p = 0;
    for (int b = 0; b < nb; ++b) {
        for (int g = 0; g < G; ++g)
            for (int r = 0; r < 4; ++r)
                for (int k = 0; k < 4; ++k) WB[p++] = W[(4 * b + r) * n_in + 4 * g + k];
        for (int r = 0; r < 4; ++r)
            for (int k = 0; k < t; ++k) WB[p++] = W[(4 * b + r) * n_in + 4 * G + k];
    }
    for (int o = 4 * nb; o < n_out; ++o)
        for (int i = 0; i < n_in; ++i) WB[p++] = W[o * n_in + i];
}

/* R = (X @ W.T) * 2^shift + B: the weights W * 2^shift, given as mantissas W and exponent */
static void ref(int rows, int n_in, int n_out, int usebias, int shift) {
    for (int r = 0; r < rows; ++r)
        for (int o = 0; o < n_out; ++o) {
            int64_t a = 0;
            for (int i = 0; i < n_in; ++i) a += (int64_t)X[r * n_in + i] * W[o * n_in + i];
            R[r * n_out + o] = (int32_t)(a * ((int64_t)1 << shift) + (usebias ? B[o] : 0));
        }
}

static int cmp(int n) {
    int bad = 0;
    for (int i = 0; i < n; ++i) bad += Y[i] != R[i];
    return bad;
}

int kb_run(void);
int kb_run(void)
{
    int bad = 0;
    for (int trial = 0; trial < 60; ++trial) {
        int n_in = 1 + (int)(rnd() % (trial < 30 ? 40u : (uint32_t)MAXI));
        int n_out = 1 + (int)(rnd() % (trial < 30 ? 40u : (uint32_t)MAXO));
        int rows = 1 + (int)(rnd() % MAXR);
        int lim = (trial % 3 == 0) ? 127 : (int)(rnd() % 128u);
        int usebias = (int)(rnd() & 1u);
        int binary = (int)(rnd() & 1u);
        int rate = (int)(rnd() % 101u);
        int shift = (trial & 1) ? (int)(rnd() % 7u) : 0;
        for (int i = 0; i < n_out * n_in; ++i) W[i] = (int8_t)(trial % 5 == 0 ? (rnd() & 1 ? -128 : 127) : rw(lim));
        for (int o = 0; o < n_out; ++o) B[o] = (int32_t)(rnd() % 20001u) - 10000;
        for (int i = 0; i < rows * n_in; ++i)
            X[i] = (int8_t)(((int)(rnd() % 100u) < rate) ? (binary ? 1 : rw(127)) : 0);
        /* dense row-major and blocked */
        ref(rows, n_in, n_out, usebias, shift);
        memset(Y, 0x55, sizeof Y);
        snnc_dense_s8_s32(X, W, usebias ? B : NULL, Y, rows, n_in, n_out, S, shift);
        bad += cmp(rows * n_out);
        block(n_in, n_out);
        memset(Y, 0x55, sizeof Y);
        snnc_dense_blk4_s8_s32(X, WB, usebias ? B : NULL, Y, rows, n_in, n_out, S, shift);
        bad += 100 * cmp(rows * n_out);
        /* the same weights at an odd address: the kernel falls back to unaligned loads */
        memmove(WB + 1, WB, (size_t)(n_in * n_out));
        memset(Y, 0x55, sizeof Y);
        snnc_dense_blk4_s8_s32(X, WB + 1, usebias ? B : NULL, Y, rows, n_in, n_out, S, shift);
        bad += 100 * cmp(rows * n_out);
        /* event kernels */
        for (int i = 0; i < n_in; ++i)
            for (int o = 0; o < n_out; ++o) WT[i * n_out + o] = W[o * n_in + i];
        int32_t count = snnc_events_s8(X, rows * n_in, IDX);
        int32_t c2 = 0;
        for (int i = 0; i < rows * n_in; ++i) if (X[i]) { if (IDX[c2] != i) bad += 1000; ++c2; }
        if (c2 != count) bad += 1000;
        memset(Y, 0x55, sizeof Y);
        snnc_event_dense_s32(IDX, count, binary ? NULL : X, WT, usebias ? B : NULL, Y, rows, n_in, n_out,
                             shift);
        bad += 10000 * cmp(rows * n_out);
        int nz = 0; RP[0] = 0;
        for (int i = 0; i < n_in; ++i) {
            for (int o = 0; o < n_out; ++o) {
                if (W[o * n_in + i] != 0 && (rnd() & 3u) != 0) { CI[nz] = (uint16_t)o; CV[nz] = W[o * n_in + i]; ++nz; }
                else { W[o * n_in + i] = 0; }
            }
            RP[i + 1] = nz;
        }
        ref(rows, n_in, n_out, usebias, 0); /* CSR: no shift argument */
        memset(Y, 0x55, sizeof Y);
        snnc_event_csr_s32(IDX, count, binary ? NULL : X, RP, CI, CV, usebias ? B : NULL, Y, rows, n_in, n_out);
        bad += 100000 * cmp(rows * n_out);
        /* the same CSR with word column indices (the DSP layout; CV has padding after nz) */
        for (int k = 0; k < nz; ++k) CW[k] = (uint32_t)CI[k];
        memset(Y, 0x55, sizeof Y);
        snnc_event_csr32_s32(IDX, count, binary ? NULL : X, RP, CW, CV, usebias ? B : NULL, Y, rows, n_in, n_out);
        bad += 100000 * cmp(rows * n_out);
        /* 16-bit: binary spikes, weights such that every partial sum fits int16 */
        if (binary) {
            int ok = 1;
            for (int o = 0; o < n_out; ++o) {
                int32_t pos = 0, neg = 0;
                for (int i = 0; i < n_in; ++i) { int w = W[o * n_in + i]; if (w > 0) pos += w; else neg += w; }
                if (pos > 32767 || neg < -32768) ok = 0;
            }
            if (ok) {
                for (int i = 0; i < n_in; ++i)
                    for (int o = 0; o < n_out; ++o) WT[i * n_out + o] = W[o * n_in + i];
                ref(rows, n_in, n_out, usebias, shift);
                memset(Y, 0x55, sizeof Y);
                memset(S, 0x77, sizeof S);
                snnc_event_dense16_s32(IDX, count, WT, usebias ? B : NULL, Y, rows, n_in, n_out, S,
                                       shift);
                bad += 1000000 * cmp(rows * n_out);
            }
        }
        if (bad) return bad > 100000000 ? 100 : bad % 251 + 1;
    }
    return 0;
}
