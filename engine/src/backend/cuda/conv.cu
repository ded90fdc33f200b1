// Unfolding for convolution (the products run on cuBLAS) and pooling (backend/cuda/conv.rs).
// ---- convolution and pooling -----------------------------------------------
// A window: c channels of h x w, kernel k, stride s, padding p, out ho x wo.

// x [B, C, H, W] to cols [C*K*K, B*Ho*Wo] (one row per kernel tap).
extern "C" __global__ void im2col(const float* x, float* cols, int batch, int c, int h, int w,
                                  int k, int s, int p, int ho, int wo) {
    int bp = batch * ho * wo;
    int n = c * k * k * bp;
    EACH(i, n) {
        int col = i % bp, row = i / bp;
        int ox = col % wo, oy = (col / wo) % ho, b = col / (wo * ho);
        int kx = row % k, ky = (row / k) % k, ch = row / (k * k);
        int iy = oy * s + ky - p, ix = ox * s + kx - p;
        cols[i] = (iy >= 0 && iy < h && ix >= 0 && ix < w)
                      ? x[(((long long)b * c + ch) * h + iy) * w + ix]
                      : 0.0f;
    }
}

// dx += the folding of dcols (the inverse of im2col's gather), one input
// element per thread, so no two threads write one place.
extern "C" __global__ void col2im(const float* dcols, float* dx, int batch, int c, int h, int w,
                                  int k, int s, int p, int ho, int wo) {
    int bp = batch * ho * wo;
    int n = batch * c * h * w;
    EACH(i, n) {
        int ix = i % w, iy = (i / w) % h, ch = (i / (w * h)) % c, b = i / (w * h * c);
        float acc = 0.0f;
        for (int ky = 0; ky < k; ky++) {
            int ty = iy + p - ky;
            if (ty < 0 || ty % s != 0 || ty / s >= ho) continue;
            for (int kx = 0; kx < k; kx++) {
                int tx = ix + p - kx;
                if (tx < 0 || tx % s != 0 || tx / s >= wo) continue;
                int row = (ch * k + ky) * k + kx;
                int col = (b * ho + ty / s) * wo + tx / s;
                acc += dcols[(long long)row * bp + col];
            }
        }
        dx[i] += acc;
    }
}

// [N, B, P] (a product's channel-major output) to [B, N, P], plus a bias per n.
extern "C" __global__ void nbp_to_bnp(const float* src, float* dst, const float* bias, int nn,
                                      int batch, int pixels) {
    int total = nn * batch * pixels;
    EACH(i, total) {
        int px = i % pixels, n = (i / pixels) % nn, b = i / (pixels * nn);
        dst[i] = src[((long long)n * batch + b) * pixels + px] + (bias ? bias[n] : 0.0f);
    }
}

// [B, N, P] to [N, B, P].
extern "C" __global__ void bnp_to_nbp(const float* src, float* dst, int nn, int batch,
                                      int pixels) {
    int total = nn * batch * pixels;
    EACH(i, total) {
        int px = i % pixels, b = (i / pixels) % batch, n = i / (pixels * batch);
        dst[i] = src[((long long)b * nn + n) * pixels + px];
    }
}

// db[n] += the sum of gy [B, N, P] over b and p; a block per n.
extern "C" __global__ void channel_sums(float* db, const float* gy, int batch, int nn,
                                        int pixels) {
    for (int n = blockIdx.x; n < nn; n += gridDim.x) {
        double s = 0.0;
        for (int i = threadIdx.x; i < batch * pixels; i += blockDim.x) {
            int b = i / pixels, px = i % pixels;
            s += gy[((long long)b * nn + n) * pixels + px];
        }
        s = block_sum(s);
        if (threadIdx.x == 0) db[n] += (float)s;
    }
}

// Max over each window; a NaN wins it, and among equals the first tap.
extern "C" __global__ void max_pool(const float* x, float* y, unsigned* arg, int planes, int h,
                                    int w, int k, int s, int ho, int wo) {
    int n = planes * ho * wo;
    EACH(i, n) {
        int ox = i % wo, oy = (i / wo) % ho, plane = i / (wo * ho);
        long long base = (long long)plane * h * w;
        float best = NEG_INF;
        unsigned at = (unsigned)(base + (oy * s) * w + ox * s);
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                long long j = base + (long long)(oy * s + ky) * w + ox * s + kx;
                float v = x[j];
                if (v > best || (isnan(v) && !isnan(best))) { best = v; at = (unsigned)j; }
            }
        y[i] = best;
        arg[i] = at;
    }
}

extern "C" __global__ void max_pool_backward(const float* gy, const unsigned* arg, float* dx,
                                             int n) {
    EACH(i, n) atomicAdd(dx + arg[i], gy[i]);
}

extern "C" __global__ void avg_pool(const float* x, float* y, int planes, int h, int w, int k,
                                    int s, int ho, int wo) {
    int n = planes * ho * wo;
    float inv = 1.0f / (float)(k * k);
    EACH(i, n) {
        int ox = i % wo, oy = (i / wo) % ho, plane = i / (wo * ho);
        const float* xp = x + (long long)plane * h * w;
        float acc = 0.0f;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) acc += xp[(oy * s + ky) * w + ox * s + kx];
        y[i] = acc * inv;
    }
}

// One input element per thread: the outputs whose windows hold it.
extern "C" __global__ void avg_pool_backward(const float* gy, float* dx, int planes, int h,
                                             int w, int k, int s, int ho, int wo) {
    int n = planes * h * w;
    float inv = 1.0f / (float)(k * k);
    EACH(i, n) {
        int ix = i % w, iy = (i / w) % h, plane = i / (w * h);
        float acc = 0.0f;
        for (int oy = 0; oy < ho; oy++) {
            if (iy < oy * s || iy >= oy * s + k) continue;
            for (int ox = 0; ox < wo; ox++) {
                if (ix < ox * s || ix >= ox * s + k) continue;
                acc += gy[((long long)plane * ho + oy) * wo + ox];
            }
        }
        dx[i] = acc * inv;
    }
}

