// Native CPU kernels for tfjs's wasm backend: the arithmetic-heavy training kernels of
// simd/kernels.c (depthwise convolutions and their gradients, the 1x1 filter gradient) plus 1x1
// convolutions and their input gradient, compiled for the machine's widest vectors (AVX-512 or
// AVX2 with FMA, chosen when loaded; 128-bit elsewhere).
//
// The wasm backend keeps its tensors in one WebAssembly.Memory. Every function here takes that
// memory's ArrayBuffer first and byte offsets into it after (the same offsets the SIMD module
// gets), and works on the tensors in place: no copies in or out. Each tensor's extent is checked
// against the buffer before anything is read or written.
//
// Layout: NHWC float32; depthwise filters [kh, kw, c]; 1x1 filters [ci, co]. One call runs in
// the calling thread (a data-parallel worker has its own memory and its own calls).
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// One compiled copy per vector width, picked once by the loader (GCC/clang function
// multiversioning); elsewhere the compiler's default target.
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
#define VARIANTS __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VARIANTS
#endif

// 16, 8 and 4 float lanes, unaligned: the compiler maps each onto the target's registers.
typedef float v16 __attribute__((vector_size(64), aligned(4)));
typedef float v8 __attribute__((vector_size(32), aligned(4)));
typedef float v4 __attribute__((vector_size(16), aligned(4)));
#define LD16(p) (*(const v16 *)(p))
#define ST16(p, v) (*(v16 *)(p) = (v))
#define LD8(p) (*(const v8 *)(p))
#define ST8(p, v) (*(v8 *)(p) = (v))
#define LD4(p) (*(const v4 *)(p))
#define ST4(p, v) (*(v4 *)(p) = (v))

/** A cyclic filter copy: tap t's row holds f[t][i % c] for i < c + 64, read at any j % c. */
#define CYCLE(c) ((c) + 64)

// ---------------------------------------------------------------------------------------------
// Scratch: growing buffers per thread, one per slot, so that a helper with scratch of its own (the
// per-channel sums) never overwrites its caller's (BatchNorm's cyclic statistics).

enum { SCRATCH_MAIN, SCRATCH_SUMS, SCRATCH_SLOTS };
static __thread float *scratch_buf[SCRATCH_SLOTS];
static __thread size_t scratch_cap[SCRATCH_SLOTS];

static float *scratch_in(int slot, size_t floats) {
  if (floats > scratch_cap[slot]) {
    free(scratch_buf[slot]);
    size_t cap = floats + floats / 2 + 1024;
    scratch_buf[slot] = aligned_alloc(64, ((cap * sizeof(float) + 63) / 64) * 64);
    scratch_cap[slot] = scratch_buf[slot] == NULL ? 0 : cap;
  }
  return scratch_buf[slot];
}

static float *scratch(size_t floats) { return scratch_in(SCRATCH_MAIN, floats); }

// ---------------------------------------------------------------------------------------------
// Depthwise convolutions.
//
// x is staged once per image into rows padded by the convolution's padding and split by column
// phase (column q = s*t + phase goes to phase row `phase`, slot t). Tap kx of output column ox then
// reads slot ox + (kx*dw)/s of phase (kx*dw)%s: for every stride and dilation, one tap of a whole
// output row is one contiguous run, as long as the output row, and zero padding is real zeros.

typedef struct {
  int n, h, w, c, ho, wo, kh, kw, sh, sw, dh, dw, pt, pl;
  int slots;    /* slots per phase row */
  int row;      /* floats per staged input row: sw * slots * c */
} dw_geom;

static dw_geom geometry(const int64_t *a) {
  dw_geom g = {(int)a[0], (int)a[1], (int)a[2], (int)a[3], (int)a[4],  (int)a[5],  (int)a[6],
               (int)a[7], (int)a[8], (int)a[9], (int)a[10], (int)a[11], (int)a[12], (int)a[13], 0, 0};
  g.slots = g.wo + ((g.kw - 1) * g.dw) / g.sw;
  g.row = g.sw * g.slots * g.c;
  return g;
}

/** Where tap column kx's run starts in a staged row. */
static inline int tap_offset(const dw_geom *g, int kx) {
  int reach = kx * g->dw;
  return ((reach % g->sw) * g->slots + reach / g->sw) * g->c;
}

/** Copies c floats (a pixel's channels): a loop the compiler vectorises, not a libc call. */
static inline void copy_pixel(float *dst, const float *src, int c) {
  for (int i = 0; i < c; i++) dst[i] = src[i];
}

/** Stages image `img` ([h, w, c]) as h padded, phase-split rows. */
static void stage(float *rows, const float *img, const dw_geom *g) {
  int c = g->c;
  for (int iy = 0; iy < g->h; iy++) {
    float *r = rows + (size_t)iy * g->row;
    const float *src = img + (size_t)iy * g->w * c;
    if (g->sw == 1) {
      // One phase: left padding, the row itself, right padding. A negative pl (a stride-1 input
      // gradient whose forward padding exceeded the taps' reach) starts inside the row.
      int skip = g->pl < 0 ? -g->pl : 0;
      int left = g->pl > 0 ? (g->pl < g->slots ? g->pl : g->slots) : 0;
      int avail = g->w > skip ? g->w - skip : 0;
      int inner = g->slots - left < avail ? g->slots - left : avail;
      memset(r, 0, sizeof(float) * left * c);
      memcpy(r + (size_t)left * c, src + (size_t)skip * c, sizeof(float) * inner * c);
      memset(r + (size_t)(left + inner) * c, 0, sizeof(float) * (g->slots - left - inner) * c);
      continue;
    }
    for (int ph = 0; ph < g->sw; ph++) {
      float *p = r + (size_t)ph * g->slots * c;
      for (int t = 0; t < g->slots; t++, p += c) {
        int ix = g->sw * t + ph - g->pl;
        if (ix >= 0 && ix < g->w) copy_pixel(p, src + (size_t)ix * c, c);
        else memset(p, 0, sizeof(float) * c);
      }
    }
  }
}

/** The inverse of stage for a gradient: dx[iy, ix] = staged[iy][(ix+pl)%s][(ix+pl)/s]. */
static void unstage(float *img, const float *rows, const dw_geom *g) {
  int c = g->c;
  for (int iy = 0; iy < g->h; iy++) {
    const float *r = rows + (size_t)iy * g->row;
    for (int ix = 0; ix < g->w; ix++) {
      int q = ix + g->pl;
      copy_pixel(img + ((size_t)iy * g->w + ix) * c, r + ((size_t)(q % g->sw) * g->slots + q / g->sw) * c, c);
    }
  }
}

/** Cyclic copies of the filter taps (flipped in both axes when `flip`), CYCLE(c) floats each. */
static void cycle_filter(float *out, const float *f, const dw_geom *g, int flip) {
  int c = g->c;
  for (int ky = 0; ky < g->kh; ky++)
    for (int kx = 0; kx < g->kw; kx++) {
      int tap = flip ? (g->kh - 1 - ky) * g->kw + (g->kw - 1 - kx) : ky * g->kw + kx;
      float *o = out + (size_t)(ky * g->kw + kx) * CYCLE(c);
      for (int i = 0; i < CYCLE(c); i++) o[i] = f[(size_t)tap * c + i % c];
    }
}

/**
 * Output rows of one image by gathering: y[oy][j] = init[j % c] + sum over taps of
 * run(iy, kx)[j] * f[tap][j % c], 64 floats at a time in four registers.
 */
VARIANTS static void dw_rows(float *y, const float *rows, const float *fc, const float *init, const dw_geom *g) {
  int c = g->c, len = g->wo * c;
  int offs[64];
  for (int kx = 0; kx < g->kw; kx++) offs[kx] = tap_offset(g, kx);
  for (int oy = 0; oy < g->ho; oy++) {
    float *yr = y + (size_t)oy * len;
    int j = 0;
    for (; j + 64 <= len; j += 64) {
      int m = j % c;
      v16 a0 = LD16(init + m), a1 = LD16(init + m + 16), a2 = LD16(init + m + 32), a3 = LD16(init + m + 48);
      for (int ky = 0; ky < g->kh; ky++) {
        int iy = oy * g->sh + ky * g->dh - g->pt;
        if (iy < 0 || iy >= g->h) continue;
        const float *r = rows + (size_t)iy * g->row + j;
        const float *fr = fc + (size_t)ky * g->kw * CYCLE(c) + m;
        for (int kx = 0; kx < g->kw; kx++, fr += CYCLE(c)) {
          const float *x = r + offs[kx];
          a0 += LD16(x) * LD16(fr);
          a1 += LD16(x + 16) * LD16(fr + 16);
          a2 += LD16(x + 32) * LD16(fr + 32);
          a3 += LD16(x + 48) * LD16(fr + 48);
        }
      }
      ST16(yr + j, a0);
      ST16(yr + j + 16, a1);
      ST16(yr + j + 32, a2);
      ST16(yr + j + 48, a3);
    }
    for (; j + 16 <= len; j += 16) {
      int m = j % c;
      v16 a = LD16(init + m);
      for (int ky = 0; ky < g->kh; ky++) {
        int iy = oy * g->sh + ky * g->dh - g->pt;
        if (iy < 0 || iy >= g->h) continue;
        const float *r = rows + (size_t)iy * g->row + j;
        const float *fr = fc + (size_t)ky * g->kw * CYCLE(c) + m;
        for (int kx = 0; kx < g->kw; kx++, fr += CYCLE(c)) a += LD16(r + offs[kx]) * LD16(fr);
      }
      ST16(yr + j, a);
    }
    for (; j < len; j++) {
      int m = j % c;
      float a = init[m];
      for (int ky = 0; ky < g->kh; ky++) {
        int iy = oy * g->sh + ky * g->dh - g->pt;
        if (iy < 0 || iy >= g->h) continue;
        const float *r = rows + (size_t)iy * g->row + j;
        for (int kx = 0; kx < g->kw; kx++) a += r[offs[kx]] * fc[(size_t)(ky * g->kw + kx) * CYCLE(c) + m];
      }
      yr[j] = a;
    }
  }
}

/** Forward (or, with the flipped filter, a stride-1 input gradient) over all images. */
static void dw_forward(float *y, const float *x, const float *f, const float *bias, const dw_geom *g, int flip) {
  int c = g->c;
  size_t staged = (size_t)g->h * g->row + 64;
  size_t cyc = (size_t)g->kh * g->kw * CYCLE(c);
  float *buf = scratch(staged + cyc + CYCLE(c));
  float *rows = buf, *fc = buf + staged, *init = fc + cyc;
  // The slack after the staged rows is read by the last vectors of a row and never kept.
  memset(rows + staged - 64, 0, 64 * sizeof(float));
  cycle_filter(fc, f, g, flip);
  for (int i = 0; i < CYCLE(c); i++) init[i] = bias != NULL ? bias[i % c] : 0.0f;
  for (int b = 0; b < g->n; b++) {
    stage(rows, x + (size_t)b * g->h * g->w * c, g);
    dw_rows(y + (size_t)b * g->ho * g->wo * c, rows, fc, init, g);
  }
}

/** Scatters dy * f back into staged input rows (any stride): rows[iy][run] += dy[oy] * f[tap]. */
VARIANTS static void dw_scatter_rows(float *rows, const float *dy, const float *fc, const dw_geom *g) {
  int c = g->c, len = g->wo * c;
  for (int oy = 0; oy < g->ho; oy++) {
    const float *d = dy + (size_t)oy * len;
    for (int ky = 0; ky < g->kh; ky++) {
      int iy = oy * g->sh + ky * g->dh - g->pt;
      if (iy < 0 || iy >= g->h) continue;
      for (int kx = 0; kx < g->kw; kx++) {
        float *r = rows + (size_t)iy * g->row + tap_offset(g, kx);
        const float *fr = fc + (size_t)(ky * g->kw + kx) * CYCLE(c);
        int j = 0;
        for (; j + 16 <= len; j += 16) ST16(r + j, LD16(r + j) + LD16(d + j) * LD16(fr + j % c));
        for (; j < len; j++) r[j] += d[j] * fr[j % c];
      }
    }
  }
}

static void dw_input_grad(float *dx, const float *dy, const float *f, const dw_geom *g) {
  if (g->sh == 1 && g->sw == 1) {
    // dx is dy convolved with the flipped filter, padded by the taps' reach minus the padding.
    dw_geom t = *g;
    t.h = g->ho, t.w = g->wo, t.ho = g->h, t.wo = g->w;
    t.pt = (g->kh - 1) * g->dh - g->pt, t.pl = (g->kw - 1) * g->dw - g->pl;
    t.slots = t.wo + (t.kw - 1) * t.dw;
    t.row = t.slots * t.c;
    dw_forward(dx, dy, f, NULL, &t, 1);
    return;
  }
  int c = g->c;
  size_t staged = (size_t)g->h * g->row;
  size_t cyc = (size_t)g->kh * g->kw * CYCLE(c);
  float *buf = scratch(staged + cyc);
  float *rows = buf, *fc = buf + staged;
  cycle_filter(fc, f, g, 0);
  for (int b = 0; b < g->n; b++) {
    memset(rows, 0, staged * sizeof(float));
    dw_scatter_rows(rows, dy + (size_t)b * g->ho * g->wo * c, fc, g);
    unstage(dx + (size_t)b * g->h * g->w * c, rows, g);
  }
}

/**
 * Filter gradient of one image: acc[tap][l] += run(iy, kx)[j] * dy[oy][j], lane l of the
 * 16-float block holding j. With c dividing 16 every block has the same lane -> channel map, so
 * acc keeps 16 lanes a tap; with c a multiple of 16 it keeps c (the block at j % c).
 */
VARIANTS static void dw_filter_rows(float *acc, const float *rows, const float *dy, const dw_geom *g, int width) {
  int c = g->c, len = g->wo * c;
  int body = len - len % 16;
  for (int oy = 0; oy < g->ho; oy++) {
    const float *d = dy + (size_t)oy * len;
    for (int ky = 0; ky < g->kh; ky++) {
      int iy = oy * g->sh + ky * g->dh - g->pt;
      if (iy < 0 || iy >= g->h) continue;
      for (int kx = 0; kx < g->kw; kx++) {
        const float *r = rows + (size_t)iy * g->row + tap_offset(g, kx);
        float *a = acc + (size_t)(ky * g->kw + kx) * width;
        if (width == 16) {
          v16 s0 = {0}, s1 = {0};
          int j = 0;
          for (; j + 32 <= body; j += 32) {
            s0 += LD16(r + j) * LD16(d + j);
            s1 += LD16(r + j + 16) * LD16(d + j + 16);
          }
          if (j < body) s0 += LD16(r + j) * LD16(d + j);
          ST16(a, LD16(a) + s0 + s1);
        } else {
          for (int j = 0; j < body; j += 16) ST16(a + j % c, LD16(a + j % c) + LD16(r + j) * LD16(d + j));
        }
        // The last len % 16 floats (c divides 16 there: lane j % 16 is channel j % c).
        for (int j = body; j < len; j++) a[j % width] += r[j] * d[j];
      }
    }
  }
}

static void dw_filter_grad(float *df, const float *x, const float *dy, const dw_geom *g) {
  int c = g->c, taps = g->kh * g->kw;
  int width = c % 16 == 0 ? c : 16;
  size_t staged = (size_t)g->h * g->row;
  float *buf = scratch(staged + (size_t)taps * width);
  float *rows = buf, *acc = buf + staged;
  memset(acc, 0, (size_t)taps * width * sizeof(float));
  for (int b = 0; b < g->n; b++) {
    stage(rows, x + (size_t)b * g->h * g->w * c, g);
    dw_filter_rows(acc, rows, dy + (size_t)b * g->ho * g->wo * c, g, width);
  }
  for (int t = 0; t < taps; t++)
    for (int ch = 0; ch < c; ch++) {
      float s = 0.0f;
      for (int l = ch; l < width; l += c) s += acc[(size_t)t * width + l];
      df[(size_t)t * c + ch] = s;
    }
}

/** Channel counts the depthwise kernels take: a divisor or a multiple of 16 lanes. */
static int dw_channels_ok(int c) { return c > 0 && (16 % c == 0 || c % 16 == 0); }

// ---------------------------------------------------------------------------------------------
// 1x1 convolutions: y[P, n] = x[P, k] . w[k, n], and the filter gradient w' = x^T . dy.

// Both are sums of products over a shared index t: out[r][j] = sum over t < T of s[r*s_r + t*s_t]
// * v[t*v_t + j], for r < R rows and j < cols. The 1x1 forward (and input gradient) runs t over
// input channels (s = x's pixels, v = the filter); the filter gradient runs t over pixels (s = x's
// channels, v = dy).

// One column block: R rows x nv vectors of W lanes in registers for the whole sum over t.
#define PRODUCT_BLOCK(V, W, LD, ST, nv)                                               \
  for (; j + (nv) * (W) <= cols; j += (nv) * (W)) {                                   \
    V acc[4][nv];                                                                     \
    for (int r = 0; r < R; r++)                                                       \
      for (int q = 0; q < (nv); q++) acc[r][q] = (V){0};                              \
    for (int t = 0; t < T; t++) {                                                     \
      V vv[nv];                                                                       \
      for (int q = 0; q < (nv); q++) vv[q] = LD(v + (size_t)t * v_t + j + q * (W));   \
      for (int r = 0; r < R; r++) {                                                   \
        float sv = s[(size_t)r * s_r + (size_t)t * s_t];                              \
        for (int q = 0; q < (nv); q++) acc[r][q] += sv * vv[q];                       \
      }                                                                               \
    }                                                                                 \
    for (int r = 0; r < R; r++)                                                       \
      for (int q = 0; q < (nv); q++) ST(out + (size_t)r * o_r + j + q * (W), acc[r][q]); \
  }

/** R (a constant after inlining: 4 or 1) rows of the products, every column. */
__attribute__((always_inline)) static inline void product_rows(float *out, size_t o_r, const float *s, size_t s_r,
                                                               size_t s_t, const float *v, size_t v_t, int T,
                                                               int cols, int R) {
  int j = 0;
  PRODUCT_BLOCK(v16, 16, LD16, ST16, 4)
  PRODUCT_BLOCK(v16, 16, LD16, ST16, 1)
  PRODUCT_BLOCK(v8, 8, LD8, ST8, 1)
  PRODUCT_BLOCK(v4, 4, LD4, ST4, 1)
  for (; j < cols; j++)
    for (int r = 0; r < R; r++) {
      float sum = 0.0f;
      for (int t = 0; t < T; t++) sum += s[(size_t)r * s_r + (size_t)t * s_t] * v[(size_t)t * v_t + j];
      out[(size_t)r * o_r + j] = sum;
    }
}

/** y[p, :] = x[p, :] . w for `rows` pixels: x [rows, k], w [k, n], y [rows, n]. */
VARIANTS static void gemm(float *y, const float *x, const float *w, int rows, int k, int n) {
  int p = 0;
  for (; p + 4 <= rows; p += 4) product_rows(y + (size_t)p * n, n, x + (size_t)p * k, k, 1, w, n, k, n, 4);
  for (; p < rows; p++) product_rows(y + (size_t)p * n, n, x + (size_t)p * k, k, 1, w, n, k, n, 1);
}

/** dw[i, j] = sum over `rows` pixels of x[p, i] * dy[p, j]: x [rows, ci], dy [rows, co]. */
VARIANTS static void pointwise_wgrad(float *dw, const float *x, const float *dy, int rows, int ci, int co) {
  int i = 0;
  for (; i + 4 <= ci; i += 4) product_rows(dw + (size_t)i * co, co, x + i, 1, ci, dy, co, rows, co, 4);
  for (; i < ci; i++) product_rows(dw + (size_t)i * co, co, x + i, 1, ci, dy, co, rows, co, 1);
}

// ---------------------------------------------------------------------------------------------
// Per-channel sums, BatchNorm, ReLU's gradient: elementwise over [p, c] tensors, read as one flat
// run of p*c floats. A vector at flat index j holds channels (j + lane) % c; when c divides 16
// every vector has the same lane -> channel map, otherwise the per-channel operands are read from
// cyclic copies at j % c (CYCLE16(c) floats).

#define CYCLE16(c) ((c) + 16)

/** A cyclic copy of per-channel values v: out[i] = v[i % c] for i < c + 16. */
static void cycle_channels(float *out, const float *v, int c) {
  for (int i = 0; i < CYCLE16(c); i++) out[i] = v[i % c];
}

enum sum_of { SUM_X, SUM_XY, SUM_SQDEV };

/** The term summed at flat index j: x, x * y, or (x - mean)^2 with the cyclic mean at offset m. */
#define TERM16(kind, x, y, mc, j, m)                                   \
  ((kind) == SUM_X    ? LD16((x) + (j))                                \
   : (kind) == SUM_XY ? LD16((x) + (j)) * LD16((y) + (j))              \
                      : (LD16((x) + (j)) - LD16((mc) + (m))) * (LD16((x) + (j)) - LD16((mc) + (m))))
#define TERM1(kind, x, y, mc, j, m)                 \
  ((kind) == SUM_X    ? (x)[j]                      \
   : (kind) == SUM_XY ? (x)[j] * (y)[j]             \
                      : ((x)[j] - (mc)[m]) * ((x)[j] - (mc)[m]))

/**
 * out[ch] = sum over p pixels of the term, summed in chunks of 1024 pixels first (as the SIMD
 * module does) to keep long sums' rounding small. `kind` is a constant at every call site.
 */
VARIANTS static void channel_sums(float *out, enum sum_of kind, const float *x, const float *y, const float *mc,
                                  int p, int c) {
  size_t n = (size_t)p * c, chunk = (size_t)1024 * c;
  if (16 % c == 0) {
    v16 total = {0};
    float tail[16] = {0};
    for (size_t start = 0; start < n; start += chunk) {
      size_t end = start + chunk < n ? start + chunk : n, j = start;
      v16 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
      for (; j + 64 <= end; j += 64) {
        s0 += TERM16(kind, x, y, mc, j, 0);
        s1 += TERM16(kind, x, y, mc, j + 16, 0);
        s2 += TERM16(kind, x, y, mc, j + 32, 0);
        s3 += TERM16(kind, x, y, mc, j + 48, 0);
      }
      for (; j + 16 <= end; j += 16) s0 += TERM16(kind, x, y, mc, j, 0);
      for (; j < end; j++) tail[j % 16] += TERM1(kind, x, y, mc, j, j % 16);
      total += (s0 + s1) + (s2 + s3);
    }
    for (int ch = 0; ch < c; ch++) {
      float s = 0.0f;
      for (int l = ch; l < 16; l += c) s += total[l] + tail[l];
      out[ch] = s;
    }
    return;
  }
  memset(out, 0, sizeof(float) * c);
  float *part = scratch_in(SCRATCH_SUMS, (size_t)c);
  for (int start = 0; start < p; start += 1024) {
    int end = start + 1024 < p ? start + 1024 : p;
    memset(part, 0, sizeof(float) * c);
    if (c % 16 == 0) {
      for (int i = start; i < end; i++)
        for (int ch = 0; ch < c; ch += 16)
          ST16(part + ch, LD16(part + ch) + TERM16(kind, x, y, mc, (size_t)i * c + ch, ch));
    } else {
      for (int i = start; i < end; i++)
        for (int ch = 0; ch < c; ch++) part[ch] += TERM1(kind, x, y, mc, (size_t)i * c + ch, ch);
    }
    for (int ch = 0; ch < c; ch++) out[ch] += part[ch];
  }
}

/** out[j] = x[j] * mul[j % c] + add[j % c] over the flat run (cyclic mul and add). */
VARIANTS static void scale_shift(float *out, const float *x, const float *mul, const float *add, int p, int c) {
  size_t n = (size_t)p * c, j = 0;
  int m = 0;
  for (; j + 16 <= n; j += 16) {
    ST16(out + j, LD16(x + j) * LD16(mul + m) + LD16(add + m));
    m += 16;
    while (m >= c) m -= c;
  }
  for (; j < n; j++) out[j] = x[j] * mul[j % c] + add[j % c];
}

/**
 * Training-mode BatchNorm over x [p, c], the SIMD module's batch_norm_train: batch mean and biased
 * variance in two passes, y = x * inv_std - mean * inv_std, and the running statistics' next
 * values (momentum m, unbiased variance).
 */
static void batch_norm_train(const float *x, const float *rm, const float *rv, float *y, float *inv_std,
                             float *new_rm, float *new_rv, int p, int c, float m, float eps) {
  float *cyc = scratch((size_t)3 * CYCLE16(c));
  float *mean_c = cyc, *is_c = cyc + CYCLE16(c), *shift_c = cyc + 2 * CYCLE16(c);
  channel_sums(new_rm, SUM_X, x, NULL, NULL, p, c);
  for (int ch = 0; ch < c; ch++) new_rm[ch] *= 1.0f / (float)p;
  cycle_channels(mean_c, new_rm, c);
  channel_sums(new_rv, SUM_SQDEV, x, NULL, mean_c, p, c);
  for (int ch = 0; ch < c; ch++) {
    new_rv[ch] *= 1.0f / (float)p;
    inv_std[ch] = 1.0f / __builtin_sqrtf(new_rv[ch] + eps);
  }
  cycle_channels(is_c, inv_std, c);
  for (int i = 0; i < CYCLE16(c); i++) shift_c[i] = -(mean_c[i] * is_c[i]);
  scale_shift(y, x, is_c, shift_c, p, c);
  float unbias = m * (float)p / (float)(p - 1);
  for (int ch = 0; ch < c; ch++) {
    float mean = new_rm[ch], var = new_rv[ch];
    new_rm[ch] = rm[ch] * (1.0f - m) + mean * m;
    new_rv[ch] = rv[ch] * (1.0f - m) + var * unbias;
  }
}

/** BatchNorm's backward (the SIMD module's batch_norm_grad): the two sums, then
 *  dx = scale * (dy - mean(dy) - xhat * mean(dy * xhat)). */
VARIANTS static void batch_norm_dx(float *dx, const float *dy, const float *xhat, const float *s_c,
                                   const float *m1_c, const float *m2_c, int p, int c) {
  size_t n = (size_t)p * c, j = 0;
  int m = 0;
  for (; j + 16 <= n; j += 16) {
    ST16(dx + j, (LD16(dy + j) - LD16(m1_c + m) - LD16(xhat + j) * LD16(m2_c + m)) * LD16(s_c + m));
    m += 16;
    while (m >= c) m -= c;
  }
  for (; j < n; j++) dx[j] = (dy[j] - m1_c[j % c] - xhat[j] * m2_c[j % c]) * s_c[j % c];
}

static void batch_norm_grad(const float *dy, const float *xhat, const float *scale, float *dx, float *sum_dy,
                            float *sum_dy_xhat, int p, int c) {
  channel_sums(sum_dy, SUM_X, dy, NULL, NULL, p, c);
  channel_sums(sum_dy_xhat, SUM_XY, dy, xhat, NULL, p, c);
  float *cyc = scratch((size_t)3 * CYCLE16(c));
  float *s_c = cyc, *m1_c = cyc + CYCLE16(c), *m2_c = cyc + 2 * CYCLE16(c);
  cycle_channels(s_c, scale, c);
  for (int i = 0; i < CYCLE16(c); i++) {
    m1_c[i] = sum_dy[i % c] * (1.0f / (float)p);
    m2_c[i] = sum_dy_xhat[i % c] * (1.0f / (float)p);
  }
  batch_norm_dx(dx, dy, xhat, s_c, m1_c, m2_c, p, c);
}

/** y[b, q, ch] = x[b, q, ch] * s[q] over n images of hw pixels: one image's scale expanded to a
 *  flat run (s_flat, hw * c floats) and multiplied in with every image. */
VARIANTS static void pixel_scale(float *y, const float *x, const float *s_flat, int n, size_t len) {
  for (int b = 0; b < n; b++) {
    const float *xi = x + (size_t)b * len;
    float *yi = y + (size_t)b * len;
    size_t j = 0;
    for (; j + 16 <= len; j += 16) ST16(yi + j, LD16(xi + j) * LD16(s_flat + j));
    for (; j < len; j++) yi[j] = xi[j] * s_flat[j];
  }
}

typedef int vi16 __attribute__((vector_size(64), aligned(4)));

/** ReLU's gradient: dx = dy where x > 0, else 0 (NaN x gives 0, as the SIMD module). */
VARIANTS static void relu_grad(float *dx, const float *dy, const float *x, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    vi16 keep = LD16(x + i) > (v16){0};
    ST16(dx + i, (v16)((vi16)LD16(dy + i) & keep));
  }
  for (; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

// ---------------------------------------------------------------------------------------------
// N-API: (memory: ArrayBuffer, ...byte offsets and sizes) for each kernel.

#define MAX_ARGS 20

typedef struct {
  char *base;
  size_t bytes;
  int64_t v[MAX_ARGS];          /* the numbers, as integers (offsets, sizes) */
  napi_value argv[MAX_ARGS + 1]; /* and as given, for the few that are floats */
} call_args;

/** Reads the buffer and `count` integers; false (with a JS exception pending) on bad input. */
static int read_args(napi_env env, napi_callback_info info, const char *name, size_t count, call_args *out) {
  napi_value *argv = out->argv;
  size_t argc = MAX_ARGS + 1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc != count + 1) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: expected the memory and %zu numbers, got %zu arguments", name, count, argc);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  void *data = NULL;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &out->bytes) != napi_ok) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: the first argument must be the wasm memory's ArrayBuffer", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  out->base = data;
  for (size_t i = 0; i < count; i++) {
    if (napi_get_value_int64(env, argv[i + 1], &out->v[i]) != napi_ok) {
      char msg[160];
      snprintf(msg, sizeof msg, "%s: argument %zu must be a number", name, i + 1);
      napi_throw_type_error(env, NULL, msg);
      return 0;
    }
  }
  return 1;
}

/** The float32 tensor at byte `offset` holding `count` floats, or NULL (exception set) if out of bounds. */
static float *tensor(napi_env env, const call_args *a, const char *name, int64_t offset, int64_t count) {
  if (count == 0) return (float *)a->base; /* an empty tensor: nothing is read or written */
  if (offset <= 0 || offset % 4 != 0 || count < 0 || (uint64_t)offset + (uint64_t)count * 4 > a->bytes) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s: a tensor at byte %lld (%lld floats) lies outside the %zu-byte memory", name,
             (long long)offset, (long long)count, a->bytes);
    napi_throw_range_error(env, NULL, msg);
    return NULL;
  }
  return (float *)(a->base + offset);
}

/** The call's first n tensors: counts[i] floats at byte offset a->v[i] (NULL for offset 0 where
 *  optional[i]). False, with the exception set, at the first one out of bounds. */
static int tensors(napi_env env, const call_args *a, const char *name, int n, const int64_t *counts,
                   const int *optional, float **out) {
  for (int i = 0; i < n; i++) {
    if (optional != NULL && optional[i] && a->v[i] == 0) {
      out[i] = NULL;
      continue;
    }
    if (!(out[i] = tensor(env, a, name, a->v[i], counts[i]))) return 0;
  }
  return 1;
}

static int geometry_ok(napi_env env, const char *name, const dw_geom *g) {
  if (g->n < 1 || g->h < 1 || g->w < 1 || !dw_channels_ok(g->c) || g->ho < 0 || g->wo < 0 || g->kh < 1 ||
      g->kw < 1 || g->kw > 64 || g->sh < 1 || g->sw < 1 || g->dh < 1 || g->dw < 1 || g->pt < 0 || g->pl < 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s: unsupported geometry (n %d, h %d, w %d, c %d, k %dx%d, stride %dx%d)", name, g->n,
             g->h, g->w, g->c, g->kh, g->kw, g->sh, g->sw);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

/** What a depthwise kernel's tensor argument is: its size follows from the geometry. */
enum dw_role { DW_INPUT, DW_OUTPUT, DW_FILTER, DW_BIAS };

/** A depthwise call (mem, n tensors by role, the 14 geometry numbers), read and checked. */
static int dw_call(napi_env env, napi_callback_info info, const char *name, int n, const enum dw_role *roles,
                   float **t, dw_geom *g) {
  call_args a;
  if (!read_args(env, info, name, (size_t)n + 14, &a)) return 0;
  *g = geometry(a.v + n);
  if (!geometry_ok(env, name, g)) return 0;
  int64_t per_role[4] = {(int64_t)g->n * g->h * g->w * g->c, (int64_t)g->n * g->ho * g->wo * g->c,
                         (int64_t)g->kh * g->kw * g->c, g->c};
  int64_t counts[4];
  int optional[4];
  for (int i = 0; i < n; i++) counts[i] = per_role[roles[i]], optional[i] = roles[i] == DW_BIAS;
  return tensors(env, &a, name, n, counts, optional, t);
}

// dw_conv(mem, x, f, bias | 0, y, n, h, w, c, ho, wo, kh, kw, sh, sw, dh, dw, pt, pl)
static napi_value js_dw_conv(napi_env env, napi_callback_info info) {
  static const enum dw_role roles[] = {DW_INPUT, DW_FILTER, DW_BIAS, DW_OUTPUT};
  float *t[4];
  dw_geom g;
  if (dw_call(env, info, "dw_conv", 4, roles, t, &g)) dw_forward(t[3], t[0], t[1], t[2], &g, 0);
  return NULL;
}

// dw_conv_input_grad(mem, dy, f, dx, n, h, w, c, ho, wo, kh, kw, sh, sw, dh, dw, pt, pl)
static napi_value js_dw_conv_input_grad(napi_env env, napi_callback_info info) {
  static const enum dw_role roles[] = {DW_OUTPUT, DW_FILTER, DW_INPUT};
  float *t[3];
  dw_geom g;
  if (dw_call(env, info, "dw_conv_input_grad", 3, roles, t, &g)) dw_input_grad(t[2], t[0], t[1], &g);
  return NULL;
}

// dw_conv_filter_grad(mem, x, dy, df, n, h, w, c, ho, wo, kh, kw, sh, sw, dh, dw, pt, pl)
static napi_value js_dw_conv_filter_grad(napi_env env, napi_callback_info info) {
  static const enum dw_role roles[] = {DW_INPUT, DW_OUTPUT, DW_FILTER};
  float *t[3];
  dw_geom g;
  if (dw_call(env, info, "dw_conv_filter_grad", 3, roles, t, &g)) dw_filter_grad(t[2], t[0], t[1], &g);
  return NULL;
}

static int sizes_ok(napi_env env, const char *name, int64_t p, int64_t ci, int64_t co) {
  if (p < 1 || ci < 1 || co < 1 || p > INT32_MAX || ci > 65536 || co > 65536) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: unsupported sizes (pixels %lld, in %lld, out %lld)", name, (long long)p,
             (long long)ci, (long long)co);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

/** What a 1x1 kernel's tensor argument is: [p, ci], [ci, co] or [p, co]. */
enum pw_role { PW_PIXELS_IN, PW_WEIGHTS, PW_PIXELS_OUT };

/** A 1x1 call (mem, 3 tensors by role, p, ci, co), read and checked; sizes = {p, ci, co}. */
static int pointwise_call(napi_env env, napi_callback_info info, const char *name, const enum pw_role *roles,
                          float **t, int *sizes) {
  call_args a;
  if (!read_args(env, info, name, 6, &a)) return 0;
  int64_t p = a.v[3], ci = a.v[4], co = a.v[5];
  if (!sizes_ok(env, name, p, ci, co)) return 0;
  int64_t per_role[3] = {p * ci, ci * co, p * co};
  int64_t counts[3] = {per_role[roles[0]], per_role[roles[1]], per_role[roles[2]]};
  sizes[0] = (int)p, sizes[1] = (int)ci, sizes[2] = (int)co;
  return tensors(env, &a, name, 3, counts, NULL, t);
}

// pointwise_conv(mem, x, w, y, p, ci, co): y[p, co] = x[p, ci] . w[ci, co]
static napi_value js_pointwise_conv(napi_env env, napi_callback_info info) {
  static const enum pw_role roles[] = {PW_PIXELS_IN, PW_WEIGHTS, PW_PIXELS_OUT};
  float *t[3];
  int n[3];
  if (pointwise_call(env, info, "pointwise_conv", roles, t, n)) gemm(t[2], t[0], t[1], n[0], n[1], n[2]);
  return NULL;
}

// pointwise_input_grad(mem, dy, w, dx, p, ci, co): dx[p, ci] = dy[p, co] . w[ci, co]^T
static napi_value js_pointwise_input_grad(napi_env env, napi_callback_info info) {
  static const enum pw_role roles[] = {PW_PIXELS_OUT, PW_WEIGHTS, PW_PIXELS_IN};
  float *t[3];
  int n[3];
  if (!pointwise_call(env, info, "pointwise_input_grad", roles, t, n)) return NULL;
  int ci = n[1], co = n[2];
  float *wt = scratch((size_t)ci * co);
  for (int i = 0; i < ci; i++)
    for (int j = 0; j < co; j++) wt[(size_t)j * ci + i] = t[1][(size_t)i * co + j];
  gemm(t[2], t[0], wt, n[0], co, ci);
  return NULL;
}

// pointwise_filter_grad(mem, x, dy, dw, p, ci, co): dw[ci, co] = x[p, ci]^T . dy[p, co]
static napi_value js_pointwise_filter_grad(napi_env env, napi_callback_info info) {
  static const enum pw_role roles[] = {PW_PIXELS_IN, PW_PIXELS_OUT, PW_WEIGHTS};
  float *t[3];
  int n[3];
  if (pointwise_call(env, info, "pointwise_filter_grad", roles, t, n))
    pointwise_wgrad(t[2], t[0], t[1], n[0], n[1], n[2]);
  return NULL;
}

/** Number i (0-based, after the memory) of a call read by read_args, as a double. */
static int arg_double(napi_env env, const call_args *a, size_t i, double *out) {
  return napi_get_value_double(env, a->argv[i + 1], out) == napi_ok;
}

// batch_norm_train(mem, x, rm, rv, y, inv_std, new_rm, new_rv, p, c, momentum, eps)
static napi_value js_batch_norm_train(napi_env env, napi_callback_info info) {
  call_args a;
  const char *name = "batch_norm_train";
  if (!read_args(env, info, name, 11, &a)) return NULL;
  double momentum, eps;
  if (!arg_double(env, &a, 9, &momentum) || !arg_double(env, &a, 10, &eps)) return NULL;
  int64_t p = a.v[7], c = a.v[8];
  if (!sizes_ok(env, name, p, c, c)) return NULL;
  float *t[7];
  int64_t counts[7] = {p * c, c, c, p * c, c, c, c};
  if (!tensors(env, &a, name, 7, counts, NULL, t)) return NULL;
  batch_norm_train(t[0], t[1], t[2], t[3], t[4], t[5], t[6], (int)p, (int)c, (float)momentum, (float)eps);
  return NULL;
}

// batch_norm_grad(mem, dy, xhat, scale, dx, sum_dy, sum_dy_xhat, p, c)
static napi_value js_batch_norm_grad(napi_env env, napi_callback_info info) {
  call_args a;
  const char *name = "batch_norm_grad";
  if (!read_args(env, info, name, 8, &a)) return NULL;
  int64_t p = a.v[6], c = a.v[7];
  if (!sizes_ok(env, name, p, c, c)) return NULL;
  float *t[6];
  int64_t counts[6] = {p * c, p * c, c, p * c, c, c};
  if (!tensors(env, &a, name, 6, counts, NULL, t)) return NULL;
  batch_norm_grad(t[0], t[1], t[2], t[3], t[4], t[5], (int)p, (int)c);
  return NULL;
}

// relu_grad(mem, dy, x, dx, n)
static napi_value js_relu_grad(napi_env env, napi_callback_info info) {
  call_args a;
  if (!read_args(env, info, "relu_grad", 4, &a)) return NULL;
  int64_t n = a.v[3];
  if (n < 1) return NULL; /* nothing to do */
  float *t[3];
  int64_t counts[3] = {n, n, n};
  if (tensors(env, &a, "relu_grad", 3, counts, NULL, t)) relu_grad(t[2], t[0], t[1], (size_t)n);
  return NULL;
}

// pixel_scale(mem, x, s, y, n, hw, c): y[b, q, ch] = x[b, q, ch] * s[q]
static napi_value js_pixel_scale(napi_env env, napi_callback_info info) {
  call_args a;
  const char *name = "pixel_scale";
  if (!read_args(env, info, name, 6, &a)) return NULL;
  int64_t n = a.v[3], hw = a.v[4], c = a.v[5];
  if (!sizes_ok(env, name, n * hw, hw, c)) return NULL;
  float *t[3];
  int64_t counts[3] = {n * hw * c, hw, n * hw * c};
  if (!tensors(env, &a, name, 3, counts, NULL, t)) return NULL;
  float *flat = scratch((size_t)(hw * c));
  for (int64_t q = 0; q < hw; q++)
    for (int64_t ch = 0; ch < c; ch++) flat[q * c + ch] = t[1][q];
  pixel_scale(t[2], t[0], flat, (int)n, (size_t)(hw * c));
  return NULL;
}

/** Which compiled copy the loader picked, for the backend's one-line reason. */
static napi_value js_vector_width(napi_env env, napi_callback_info info) {
  (void)info;
  const char *isa = "128-bit";
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq"))
    isa = "AVX-512";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    isa = "AVX2";
#endif
  napi_value out;
  napi_create_string_utf8(env, isa, NAPI_AUTO_LENGTH, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"dw_conv", NULL, js_dw_conv, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dw_conv_input_grad", NULL, js_dw_conv_input_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dw_conv_filter_grad", NULL, js_dw_conv_filter_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pointwise_conv", NULL, js_pointwise_conv, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pointwise_input_grad", NULL, js_pointwise_input_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pointwise_filter_grad", NULL, js_pointwise_filter_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"batch_norm_train", NULL, js_batch_norm_train, NULL, NULL, NULL, napi_enumerable, NULL},
      {"batch_norm_grad", NULL, js_batch_norm_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relu_grad", NULL, js_relu_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pixel_scale", NULL, js_pixel_scale, NULL, NULL, NULL, napi_enumerable, NULL},
      {"vector_width", NULL, js_vector_width, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
