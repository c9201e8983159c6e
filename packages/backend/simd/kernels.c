// Training kernels for tfjs's wasm backend, in WebAssembly SIMD (128-bit, 4 float lanes).
//
// The module imports the wasm backend's own linear memory and works on its tensors in place, so
// it must never touch memory it was not given: no static data, no globals, no shadow stack (only
// scalar locals, which live in wasm locals). scripts/build-simd.mjs checks the compiled module for
// data segments and stack-pointer use and refuses to emit one that has them.
//
// Layout: NHWC float32. Depthwise filters are [kh, kw, c] (channel multiplier 1). Pointers are
// byte offsets into the shared memory. Channels run in blocks of 4 lanes, the remainder scalar.
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

static inline void zero(float *p, int count) {
  int i = 0;
  for (; i + 4 <= count; i += 4) wasm_v128_store(p + i, wasm_f32x4_splat(0.0f));
  for (; i < count; i++) p[i] = 0.0f;
}

/** The ox in [0, wo) whose tap column ox*s + off falls inside [0, w): [*lo, *hi). */
static inline void valid_range(int off, int s, int w, int wo, int *lo, int *hi) {
  int first = off >= 0 ? 0 : (-off + s - 1) / s;
  int last = w - 1 - off >= 0 ? (w - 1 - off) / s + 1 : 0;
  *lo = first;
  *hi = last < wo ? last : wo;
}

/**
 * One tap swept along a row: acc[i*acc_step + ch] += src[i*src_step + ch] * f[ch] for i < count,
 * ch < c. Channels outermost so that each 4-channel block keeps its filter lanes in a register.
 */
static void sweep_axpy(float *acc, int acc_step, const float *src, int src_step, const float *f, int count,
                       int c) {
  int ch = 0;
  for (; ch + 4 <= c; ch += 4) {
    v128_t vf = wasm_v128_load(f + ch);
    float *a = acc + ch;
    const float *x = src + ch;
    for (int i = 0; i < count; i++, a += acc_step, x += src_step) {
      wasm_v128_store(a, wasm_f32x4_add(wasm_v128_load(a), wasm_f32x4_mul(wasm_v128_load(x), vf)));
    }
  }
  for (; ch < c; ch++) {
    float *a = acc + ch;
    const float *x = src + ch;
    for (int i = 0; i < count; i++, a += acc_step, x += src_step) *a += *x * f[ch];
  }
}

/** One tap swept along a row, reduced: out[ch] += sum over i < count of a[i*a_step+ch] * b[i*b_step+ch]. */
static void sweep_dot(float *out, const float *a, int a_step, const float *b, int b_step, int count, int c) {
  int ch = 0;
  for (; ch + 4 <= c; ch += 4) {
    v128_t s0 = wasm_f32x4_splat(0.0f);
    v128_t s1 = wasm_f32x4_splat(0.0f);
    const float *p = a + ch;
    const float *q = b + ch;
    int i = 0;
    // Two accumulators: the adds of consecutive pixels need not wait on each other.
    for (; i + 2 <= count; i += 2, p += 2 * a_step, q += 2 * b_step) {
      s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(p), wasm_v128_load(q)));
      s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(p + a_step), wasm_v128_load(q + b_step)));
    }
    if (i < count) s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(p), wasm_v128_load(q)));
    wasm_v128_store(out + ch, wasm_f32x4_add(wasm_v128_load(out + ch), wasm_f32x4_add(s0, s1)));
  }
  for (; ch < c; ch++) {
    float sum = 0.0f;
    const float *p = a + ch;
    const float *q = b + ch;
    for (int i = 0; i < count; i++, p += a_step, q += b_step) sum += *p * *q;
    out[ch] += sum;
  }
}

/** What a walk over a depthwise convolution's taps does with each (output run, input run) pair. */
enum tap_work { INTO_OUTPUT, INTO_INPUT, INTO_FILTER };

/**
 * For output row (b, oy) of a depthwise convolution, every tap (ky, kx) that lands inside x with
 * the run of output pixels [lo, hi) that read x through it, and one sweep along that run:
 * INTO_OUTPUT y += x * f (forward), INTO_INPUT x += y * f (dy scattered back), INTO_FILTER
 * f += sum of y * x (filter gradient). `yrow` is the output-side row, `ximg` image b of the
 * input side. No division in the walk, any stride. Inlined into each kernel, so that `work` is a
 * constant there and each kernel compiles to its own loop, as when they were written out thrice.
 */
__attribute__((always_inline)) static inline void tap_row(enum tap_work work, float *yrow, float *ximg,
                                                          float *f, int oy, int h, int w, int c, int wo,
                                                          int kh, int kw, int sh, int sw, int dh, int dw,
                                                          int pt, int pl) {
  for (int ky = 0; ky < kh; ky++) {
    int iy = oy * sh + ky * dh - pt;
    if (iy < 0 || iy >= h) continue;
    for (int kx = 0; kx < kw; kx++) {
      int off = kx * dw - pl, lo, hi;
      valid_range(off, sw, w, wo, &lo, &hi);
      if (hi <= lo) continue;
      float *ys = yrow + lo * c;
      float *xs = ximg + (iy * w + lo * sw + off) * c;
      float *tap = f + (ky * kw + kx) * c;
      if (work == INTO_OUTPUT) sweep_axpy(ys, c, xs, sw * c, tap, hi - lo, c);
      else if (work == INTO_INPUT) sweep_axpy(xs, sw * c, ys, c, tap, hi - lo, c);
      else sweep_dot(tap, ys, c, xs, sw * c, hi - lo, c);
    }
  }
}

/** The filter tap read for (ky, kx): the filter flipped in both axes when `flip`. */
static inline int tap_of(int ky, int kx, int kh, int kw, int flip) {
  return flip ? (kh - 1 - ky) * kw + (kw - 1 - kx) : ky * kw + kx;
}

/**
 * Output pixel (oy, ox), channels [ch, ch + 4) of a depthwise convolution gathered from its taps:
 * init + sum of x[oy*sh + ky*dh - pt, ox*sw + kx*dw - pl] * f[tap], taps outside x skipped. The
 * tap read for (ky, kx) is (kh-1-ky, kw-1-kx) when `flip` (a stride-1 input gradient as a forward
 * convolution of dy).
 */
static inline v128_t gather_pixel(v128_t acc, const float *ximg, const float *f, int oy, int ox, int ch, int h,
                                  int w, int c, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                                  int flip) {
  for (int ky = 0; ky < kh; ky++) {
    int iy = oy * sh + ky * dh - pt;
    if (iy < 0 || iy >= h) continue;
    for (int kx = 0; kx < kw; kx++) {
      int ix = ox * sw + kx * dw - pl;
      if (ix < 0 || ix >= w) continue;
      int tap = tap_of(ky, kx, kh, kw, flip);
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(ximg + (iy * w + ix) * c + ch),
                                               wasm_v128_load(f + tap * c + ch)));
    }
  }
  return acc;
}

/**
 * Depthwise convolution by gathering, c % 4 == 0: y = bias (or 0) + taps, see gather_pixel. Where
 * every column tap of 4 neighbouring output pixels lies inside x, the 4 pixels accumulate in
 * registers together and share each filter load: one load per multiply-add and one store per
 * pixel, instead of a load and a store of the output per tap in the row sweeps.
 */
static void dw_gather(float *y, const float *x, const float *f, const float *bias, int n, int h, int w, int c,
                      int ho, int wo, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int flip) {
  // Output columns whose taps all fall inside x: ox*sw - pl >= 0 and ox*sw + (kw-1)*dw - pl < w.
  int lo = pl > 0 ? (pl + sw - 1) / sw : 0;
  int last = w - 1 - (kw - 1) * dw + pl;
  int hi = last >= 0 ? last / sw + 1 : 0;
  if (hi > wo) hi = wo;
  if (lo > hi) lo = hi;
  int step = sw * c;
  for (int b = 0; b < n; b++) {
    const float *ximg = x + b * h * w * c;
    for (int oy = 0; oy < ho; oy++) {
      float *row = y + (b * ho + oy) * wo * c;
      for (int ch = 0; ch < c; ch += 4) {
        v128_t init = bias != 0 ? wasm_v128_load(bias + ch) : wasm_f32x4_splat(0.0f);
        int ox = 0;
        for (; ox < lo; ox++)
          wasm_v128_store(row + ox * c + ch,
                          gather_pixel(init, ximg, f, oy, ox, ch, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, flip));
        for (; ox + 4 <= hi; ox += 4) {
          v128_t a0 = init, a1 = init, a2 = init, a3 = init;
          for (int ky = 0; ky < kh; ky++) {
            int iy = oy * sh + ky * dh - pt;
            if (iy < 0 || iy >= h) continue;
            const float *xp = ximg + (iy * w + ox * sw - pl) * c + ch;
            for (int kx = 0; kx < kw; kx++, xp += dw * c) {
              int tap = tap_of(ky, kx, kh, kw, flip);
              v128_t vf = wasm_v128_load(f + tap * c + ch);
              a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(xp), vf));
              a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wasm_v128_load(xp + step), vf));
              a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(wasm_v128_load(xp + 2 * step), vf));
              a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(wasm_v128_load(xp + 3 * step), vf));
            }
          }
          wasm_v128_store(row + ox * c + ch, a0);
          wasm_v128_store(row + (ox + 1) * c + ch, a1);
          wasm_v128_store(row + (ox + 2) * c + ch, a2);
          wasm_v128_store(row + (ox + 3) * c + ch, a3);
        }
        for (; ox < wo; ox++)
          wasm_v128_store(row + ox * c + ch,
                          gather_pixel(init, ximg, f, oy, ox, ch, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, flip));
      }
    }
  }
}

/**
 * Depthwise convolution forward: y[b,oy,ox,ch] = bias[ch] + sum over taps of x[b,iy,ix,ch] *
 * f[ky,kx,ch] with iy = oy*sh + ky*dh - pt (zero outside the input), the same for columns. A
 * null bias adds nothing. Each tap is swept along the output row with its filter lanes in a
 * register (measured faster here than XNNPACK, which re-packs the filter on every call).
 */
EXPORT(dw_conv)
void dw_conv(const float *x, const float *f, const float *bias, float *y, int n, int h, int w, int c,
             int ho, int wo, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl) {
  if (kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && c % 4 == 0) {
    // A per-channel scale and shift (BatchNorm's affine step): one pass.
    for (int p = 0; p < n * h * w; p++) {
      for (int ch = 0; ch < c; ch += 4) {
        v128_t v = wasm_f32x4_mul(wasm_v128_load(x + p * c + ch), wasm_v128_load(f + ch));
        if (bias != 0) v = wasm_f32x4_add(v, wasm_v128_load(bias + ch));
        wasm_v128_store(y + p * c + ch, v);
      }
    }
    return;
  }
  if (c % 4 == 0) {
    dw_gather(y, x, f, bias, n, h, w, c, ho, wo, kh, kw, sh, sw, dh, dw, pt, pl, 0);
    return;
  }
  for (int b = 0; b < n; b++) {
    for (int oy = 0; oy < ho; oy++) {
      float *row = y + (b * ho + oy) * wo * c;
      if (bias == 0) {
        zero(row, wo * c);
      } else if (c % 4 == 0) {
        for (int ox = 0; ox < wo; ox++)
          for (int ch = 0; ch < c; ch += 4) wasm_v128_store(row + ox * c + ch, wasm_v128_load(bias + ch));
      } else {
        for (int ox = 0; ox < wo; ox++)
          for (int ch = 0; ch < c; ch++) row[ox * c + ch] = bias[ch];
      }
      // The walk writes only through the output side here: x and f are read.
      tap_row(INTO_OUTPUT, row, (float *)x + b * h * w * c, (float *)f, oy, h, w, c, wo, kh, kw, sh, sw, dh, dw,
              pt, pl);
    }
  }
}

/** Gradient of dw_conv with respect to x: each tap's dy * f scattered back to the x it read. */
EXPORT(dw_conv_input_grad)
void dw_conv_input_grad(const float *dy, const float *f, float *dx, int n, int h, int w, int c, int ho,
                        int wo, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl) {
  if (sh == 1 && sw == 1 && c % 4 == 0) {
    // At stride 1, dx is dy convolved with the flipped filter, padded by the taps' reach minus
    // the forward's padding: a gather, so each dx pixel is written once.
    dw_gather(dx, dy, f, 0, n, ho, wo, c, h, w, kh, kw, 1, 1, dh, dw, (kh - 1) * dh - pt, (kw - 1) * dw - pl, 1);
    return;
  }
  zero(dx, n * h * w * c);
  for (int b = 0; b < n; b++)
    for (int oy = 0; oy < ho; oy++)
      tap_row(INTO_INPUT, (float *)dy + (b * ho + oy) * wo * c, dx + b * h * w * c, (float *)f, oy, h, w, c, wo,
              kh, kw, sh, sw, dh, dw, pt, pl);
}

/** Gradient of dw_conv with respect to its filter: df[ky,kx,ch] = sum of dy * the x it met. */
EXPORT(dw_conv_filter_grad)
void dw_conv_filter_grad(const float *x, const float *dy, float *df, int n, int h, int w, int c, int ho,
                         int wo, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl) {
  zero(df, kh * kw * c);
  for (int b = 0; b < n; b++)
    for (int oy = 0; oy < ho; oy++)
      tap_row(INTO_FILTER, (float *)dy + (b * ho + oy) * wo * c, (float *)x + b * h * w * c, df, oy, h, w, c, wo,
              kh, kw, sh, sw, dh, dw, pt, pl);
}

/**
 * Gradient of max pooling with respect to x: each window's dy goes to the first tap (row-major)
 * holding the window's maximum, tfjs's and TensorFlow's tie rule. Padding never wins.
 */
EXPORT(max_pool_grad)
void max_pool_grad(const float *x, const float *dy, float *dx, int n, int h, int w, int c, int ho,
                   int wo, int kh, int kw, int sh, int sw, int pt, int pl) {
  zero(dx, n * h * w * c);
  for (int b = 0; b < n; b++) {
    for (int oy = 0; oy < ho; oy++) {
      for (int ox = 0; ox < wo; ox++) {
        const float *g = dy + ((b * ho + oy) * wo + ox) * c;
        int ch = 0;
        for (; ch + 4 <= c; ch += 4) {
          v128_t best = wasm_f32x4_splat(-__builtin_inff());
          v128_t at = wasm_i32x4_splat(-1);
          for (int ky = 0; ky < kh; ky++) {
            int iy = oy * sh + ky - pt;
            if (iy < 0 || iy >= h) continue;
            for (int kx = 0; kx < kw; kx++) {
              int ix = ox * sw + kx - pl;
              if (ix < 0 || ix >= w) continue;
              int offset = ((b * h + iy) * w + ix) * c + ch;
              v128_t v = wasm_v128_load(x + offset);
              // The first maximum wins; a window of -inf still takes its first tap.
              v128_t greater = wasm_v128_or(wasm_f32x4_gt(v, best), wasm_i32x4_lt(at, wasm_i32x4_splat(0)));
              best = wasm_v128_bitselect(v, best, greater);
              at = wasm_v128_bitselect(wasm_i32x4_splat(offset), at, greater);
            }
          }
          int a0 = wasm_i32x4_extract_lane(at, 0), a1 = wasm_i32x4_extract_lane(at, 1);
          int a2 = wasm_i32x4_extract_lane(at, 2), a3 = wasm_i32x4_extract_lane(at, 3);
          if (a0 >= 0) dx[a0] += g[ch];
          if (a1 >= 0) dx[a1 + 1] += g[ch + 1];
          if (a2 >= 0) dx[a2 + 2] += g[ch + 2];
          if (a3 >= 0) dx[a3 + 3] += g[ch + 3];
        }
        for (; ch < c; ch++) {
          float best = 0.0f;
          int at = -1;
          for (int ky = 0; ky < kh; ky++) {
            int iy = oy * sh + ky - pt;
            if (iy < 0 || iy >= h) continue;
            for (int kx = 0; kx < kw; kx++) {
              int ix = ox * sw + kx - pl;
              if (ix < 0 || ix >= w) continue;
              int offset = ((b * h + iy) * w + ix) * c + ch;
              if (at < 0 || x[offset] > best) {
                best = x[offset];
                at = offset;
              }
            }
          }
          if (at >= 0) dx[at] += g[ch];
        }
      }
    }
  }
}

/** a[i] * b[i], or a[i] when b is null. */
static inline v128_t term(const float *a, const float *b) {
  return b != 0 ? wasm_f32x4_mul(wasm_v128_load(a), wasm_v128_load(b)) : wasm_v128_load(a);
}

/**
 * Per-channel sums over p pixels of a[i]*b[i] (b null: of a[i]) into out[c], c a multiple of 4.
 * Groups of 16 channels (one 64-byte cache line of a pixel) are summed in four registers, so wide
 * tensors are read once; narrower remainders 4 channels at a time. Chunks of 1024 pixels are
 * summed first and then added to the total, which keeps the rounding error of long sums small.
 */
static void channel_sums(const float *a, const float *b, float *out, int p, int c) {
  int ch = 0;
  for (; ch + 16 <= c; ch += 16) {
    v128_t t0 = wasm_f32x4_splat(0.0f), t1 = t0, t2 = t0, t3 = t0;
    for (int start = 0; start < p; start += 1024) {
      int end = start + 1024 < p ? start + 1024 : p;
      v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
      for (int i = start; i < end; i++) {
        const float *pa = a + i * c + ch;
        const float *pb = b != 0 ? b + i * c + ch : 0;
        s0 = wasm_f32x4_add(s0, term(pa, pb));
        s1 = wasm_f32x4_add(s1, term(pa + 4, pb != 0 ? pb + 4 : 0));
        s2 = wasm_f32x4_add(s2, term(pa + 8, pb != 0 ? pb + 8 : 0));
        s3 = wasm_f32x4_add(s3, term(pa + 12, pb != 0 ? pb + 12 : 0));
      }
      t0 = wasm_f32x4_add(t0, s0);
      t1 = wasm_f32x4_add(t1, s1);
      t2 = wasm_f32x4_add(t2, s2);
      t3 = wasm_f32x4_add(t3, s3);
    }
    wasm_v128_store(out + ch, t0);
    wasm_v128_store(out + ch + 4, t1);
    wasm_v128_store(out + ch + 8, t2);
    wasm_v128_store(out + ch + 12, t3);
  }
  for (; ch < c; ch += 4) {
    v128_t total = wasm_f32x4_splat(0.0f);
    for (int start = 0; start < p; start += 1024) {
      int end = start + 1024 < p ? start + 1024 : p;
      // Four pixels at a time in four registers: consecutive adds need not wait on each other.
      v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
      int i = start;
      for (; i + 4 <= end; i += 4) {
        const float *pa = a + i * c + ch;
        const float *pb = b != 0 ? b + i * c + ch : 0;
        s0 = wasm_f32x4_add(s0, term(pa, pb));
        s1 = wasm_f32x4_add(s1, term(pa + c, pb != 0 ? pb + c : 0));
        s2 = wasm_f32x4_add(s2, term(pa + 2 * c, pb != 0 ? pb + 2 * c : 0));
        s3 = wasm_f32x4_add(s3, term(pa + 3 * c, pb != 0 ? pb + 3 * c : 0));
      }
      for (; i < end; i++) s0 = wasm_f32x4_add(s0, term(a + i * c + ch, b != 0 ? b + i * c + ch : 0));
      total = wasm_f32x4_add(total, wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3)));
    }
    wasm_v128_store(out + ch, total);
  }
}

/**
 * Training-mode BatchNorm over x [p, c] (c a multiple of 4): batch mean and biased variance (two
 * passes, as PyTorch), y = x * inv_std - mean * inv_std, inv_std = 1 / sqrt(var + eps), and the
 * running statistics' next values (momentum m; the unbiased variance) in new_rm and new_rv.
 */
EXPORT(batch_norm_train)
void batch_norm_train(const float *x, const float *rm, const float *rv, float *y, float *inv_std, float *new_rm,
                      float *new_rv, int p, int c, float m, float eps) {
  v128_t scale_p = wasm_f32x4_splat(1.0f / (float)p);
  channel_sums(x, 0, new_rm, p, c);
  for (int ch = 0; ch < c; ch += 4) wasm_v128_store(new_rm + ch, wasm_f32x4_mul(wasm_v128_load(new_rm + ch), scale_p));
  // Squared deviations summed per channel, written into y as scratch before y is computed.
  for (int i = 0; i < p; i++) {
    for (int ch = 0; ch < c; ch += 4) {
      v128_t d = wasm_f32x4_sub(wasm_v128_load(x + i * c + ch), wasm_v128_load(new_rm + ch));
      wasm_v128_store(y + i * c + ch, wasm_f32x4_mul(d, d));
    }
  }
  channel_sums(y, 0, new_rv, p, c);
  for (int ch = 0; ch < c; ch += 4) {
    v128_t var = wasm_f32x4_mul(wasm_v128_load(new_rv + ch), scale_p);
    wasm_v128_store(new_rv + ch, var);
    v128_t is = wasm_f32x4_div(wasm_f32x4_splat(1.0f), wasm_f32x4_sqrt(wasm_f32x4_add(var, wasm_f32x4_splat(eps))));
    wasm_v128_store(inv_std + ch, is);
  }
  for (int i = 0; i < p; i++) {
    for (int ch = 0; ch < c; ch += 4) {
      v128_t is = wasm_v128_load(inv_std + ch);
      v128_t shift = wasm_f32x4_neg(wasm_f32x4_mul(wasm_v128_load(new_rm + ch), is));
      wasm_v128_store(y + i * c + ch, wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(x + i * c + ch), is), shift));
    }
  }
  v128_t keep = wasm_f32x4_splat(1.0f - m), take = wasm_f32x4_splat(m);
  v128_t unbias = wasm_f32x4_splat(m * (float)p / (float)(p - 1));
  for (int ch = 0; ch < c; ch += 4) {
    v128_t mean = wasm_v128_load(new_rm + ch), var = wasm_v128_load(new_rv + ch);
    wasm_v128_store(new_rm + ch, wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(rm + ch), keep), wasm_f32x4_mul(mean, take)));
    wasm_v128_store(new_rv + ch, wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(rv + ch), keep), wasm_f32x4_mul(var, unbias)));
  }
}

/**
 * BatchNorm's backward over [p, c] (c a multiple of 4): sum_dy and sum_dy_xhat per channel, and
 * dx = scale * (dy - mean(dy) - xhat * mean(dy * xhat)), scale = gamma / sqrt(var + eps).
 */
EXPORT(batch_norm_grad)
void batch_norm_grad(const float *dy, const float *xhat, const float *scale, float *dx, float *sum_dy,
                     float *sum_dy_xhat, int p, int c) {
  channel_sums(dy, 0, sum_dy, p, c);
  channel_sums(dy, xhat, sum_dy_xhat, p, c);
  v128_t inv_p = wasm_f32x4_splat(1.0f / (float)p);
  for (int i = 0; i < p; i++) {
    for (int ch = 0; ch < c; ch += 4) {
      v128_t s = wasm_v128_load(scale + ch);
      v128_t m1 = wasm_f32x4_mul(wasm_v128_load(sum_dy + ch), inv_p);
      v128_t m2 = wasm_f32x4_mul(wasm_v128_load(sum_dy_xhat + ch), inv_p);
      v128_t g = wasm_f32x4_sub(wasm_f32x4_sub(wasm_v128_load(dy + i * c + ch), m1),
                                wasm_f32x4_mul(wasm_v128_load(xhat + i * c + ch), m2));
      wasm_v128_store(dx + i * c + ch, wasm_f32x4_mul(g, s));
    }
  }
}

/**
 * One SGD step of PyTorch's rule on n values: g += wd * v; buf = mu * buf + g (buf = g on the
 * first step, has_buf = 0); g = nesterov ? g + mu * buf : buf; v -= lr * g. Writes new_v and
 * new_buf (mu != 0), leaving the inputs alone.
 */
EXPORT(sgd_step)
void sgd_step(const float *v, const float *g, const float *buf, float *new_v, float *new_buf, int n, float lr,
              float mu, float wd, int nesterov, int has_buf) {
  for (int i = 0; i < n; i++) {
    float grad = wd != 0.0f ? g[i] + v[i] * wd : g[i];
    if (mu != 0.0f) {
      float b = has_buf ? buf[i] * mu + grad : grad;
      new_buf[i] = b;
      grad = nesterov ? grad + b * mu : b;
    }
    new_v[i] = v[i] - grad * lr;
  }
}

/**
 * y = t * w[0] (first = 1) or y += t * w[0] over n values: one term of a weighted sum whose
 * weight is a scalar tensor in memory (DARTS' mixed op: sum of softmax(alpha)_k * op_k(x)).
 */
EXPORT(scale_add)
void scale_add(float *y, const float *t, const float *w, int n, int first) {
  v128_t vw = wasm_f32x4_splat(w[0]);
  int i = 0;
  if (first) {
    for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_mul(wasm_v128_load(t + i), vw));
    for (; i < n; i++) y[i] = t[i] * w[0];
  } else {
    for (; i + 4 <= n; i += 4)
      wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(wasm_v128_load(t + i), vw)));
    for (; i < n; i++) y[i] += t[i] * w[0];
  }
}

/** dx[i] = dy[i] where x[i] > 0, else 0: ReLU's gradient in one pass (tfjs: step(x), then a product). */
EXPORT(relu_grad)
void relu_grad(const float *dy, const float *x, float *dx, int n) {
  v128_t zero4 = wasm_f32x4_splat(0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4)
    wasm_v128_store(dx + i, wasm_v128_and(wasm_v128_load(dy + i), wasm_f32x4_gt(wasm_v128_load(x + i), zero4)));
  for (; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

/** out[0] = sum of a[i] * b[i] over n values, summed in chunks of 4096 (see channel_sums). */
EXPORT(dot)
void dot(const float *a, const float *b, float *out, int n) {
  float total = 0.0f;
  int i = 0;
  while (i + 4 <= n) {
    int end = i + 4096 < n ? i + 4096 : n;
    v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0;
    for (; i + 8 <= end; i += 8) {
      s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
      s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
    }
    for (; i + 4 <= end; i += 4) s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    v128_t s = wasm_f32x4_add(s0, s1);
    total += (wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1)) +
             (wasm_f32x4_extract_lane(s, 2) + wasm_f32x4_extract_lane(s, 3));
  }
  for (; i < n; i++) total += a[i] * b[i];
  out[0] = total;
}

/**
 * Gradient of a 1x1 convolution with respect to its filter: dw[i, j] = sum over p pixels of
 * x[p, i] * dy[p, j], for ci input and co output channels (co a multiple of 4). The ci x co
 * result stays in L1 while x and dy stream through once.
 */
EXPORT(pointwise_filter_grad)
void pointwise_filter_grad(const float *x, const float *dy, float *dw, int p, int ci, int co) {
  zero(dw, ci * co);
  for (int q = 0; q < p; q++) {
    const float *xs = x + q * ci;
    const float *g = dy + q * co;
    for (int i = 0; i < ci; i++) {
      v128_t xv = wasm_f32x4_splat(xs[i]);
      float *row = dw + i * co;
      for (int j = 0; j < co; j += 4)
        wasm_v128_store(row + j, wasm_f32x4_add(wasm_v128_load(row + j), wasm_f32x4_mul(xv, wasm_v128_load(g + j))));
    }
  }
}

/**
 * Copies `rows` runs of `len` floats from src (runs `src_stride` apart) to dst (`dst_stride`
 * apart): a concat or slice along the last axes of a row-major tensor.
 */
EXPORT(copy_rows)
void copy_rows(const float *src, int src_stride, float *dst, int dst_stride, int rows, int len) {
  for (int r = 0; r < rows; r++) {
    const float *s = src + r * src_stride;
    float *d = dst + r * dst_stride;
    int i = 0;
    for (; i + 4 <= len; i += 4) wasm_v128_store(d + i, wasm_v128_load(s + i));
    for (; i < len; i++) d[i] = s[i];
  }
}
