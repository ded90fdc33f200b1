// Embeddings, recurrent cells step by step (the products run on cuBLAS), last steps
// (backend/cuda/sequence.rs).
// ---- sequences -------------------------------------------------------------

extern "C" __global__ void gather_rows(const float* table, const unsigned* ids, float* y,
                                       int count, int dim) {
    EACH(i, count * dim) y[i] = table[(long long)ids[i / dim] * dim + i % dim];
}

// A thread per column, walking the ids in order: no two threads write one
// place, and the sums come out the same every run.
extern "C" __global__ void scatter_add_rows(float* table, const unsigned* ids, const float* gy,
                                            int count, int dim) {
    EACH(j, dim) {
        for (int k = 0; k < count; k++) table[(long long)ids[k] * dim + j] += gy[(long long)k * dim + j];
    }
}

// Both biases on the input side, but GRU's b_hn (the first `summed` of b_hh).
extern "C" __global__ void recurrent_bias(const float* b_ih, const float* b_hh, float* bias,
                                          int g, int summed) {
    EACH(i, g) bias[i] = b_ih[i] + (i < summed ? b_hh[i] : 0.0f);
}

// One step t of a cell, a thread per (b, j). xw is [B, T, G] (input side of
// every step), hw [B, G] (this step's hidden side); states hs (and cs) are
// time-major [T + 1, B, H]; gates and hn keep step `slot`.
extern "C" __global__ void rnn_step(const float* xw, const float* hw, float* hs, int batch,
                                    int steps, int hidden, int t) {
    EACH(i, batch * hidden) {
        int b = i / hidden, j = i % hidden;
        hs[((long long)(t + 1) * batch + b) * hidden + j] =
            tanhf(xw[((long long)b * steps + t) * hidden + j] + hw[(long long)b * hidden + j]);
    }
}

extern "C" __global__ void lstm_step(const float* xw, const float* hw, float* gates, float* cs,
                                     float* hs, int batch, int steps, int hidden, int t,
                                     int slot) {
    int g4 = 4 * hidden;
    EACH(i, batch * hidden) {
        int b = i / hidden, j = i % hidden;
        const float* xg = xw + ((long long)b * steps + t) * g4;
        const float* hg = hw + (long long)b * g4;
        float gi = sigmoidf(xg[j] + hg[j]);
        float gf = sigmoidf(xg[hidden + j] + hg[hidden + j]);
        float gg = tanhf(xg[2 * hidden + j] + hg[2 * hidden + j]);
        float go = sigmoidf(xg[3 * hidden + j] + hg[3 * hidden + j]);
        float c = gf * cs[((long long)t * batch + b) * hidden + j] + gi * gg;
        float* gs = gates + ((long long)slot * batch + b) * g4;
        gs[j] = gi; gs[hidden + j] = gf; gs[2 * hidden + j] = gg; gs[3 * hidden + j] = go;
        cs[((long long)(t + 1) * batch + b) * hidden + j] = c;
        hs[((long long)(t + 1) * batch + b) * hidden + j] = go * tanhf(c);
    }
}

extern "C" __global__ void gru_step(const float* xw, const float* hw, const float* b_hn,
                                    float* gates, float* hn, float* hs, int batch, int steps,
                                    int hidden, int t, int slot) {
    int g3 = 3 * hidden;
    EACH(i, batch * hidden) {
        int b = i / hidden, j = i % hidden;
        const float* xg = xw + ((long long)b * steps + t) * g3;
        const float* hg = hw + (long long)b * g3;
        float r = sigmoidf(xg[j] + hg[j]);
        float z = sigmoidf(xg[hidden + j] + hg[hidden + j]);
        float hnj = hg[2 * hidden + j] + b_hn[j];
        float n = tanhf(xg[2 * hidden + j] + r * hnj);
        float* gs = gates + ((long long)slot * batch + b) * g3;
        gs[j] = r; gs[hidden + j] = z; gs[2 * hidden + j] = n;
        hn[((long long)slot * batch + b) * hidden + j] = hnj;
        float hp = hs[((long long)t * batch + b) * hidden + j];
        hs[((long long)(t + 1) * batch + b) * hidden + j] = (1.0f - z) * n + z * hp;
    }
}

// Time-major states [T + 1, B, H] (without h0) to the batch-major output [B, T, H].
extern "C" __global__ void states_to_output(const float* hs, float* out, int batch, int steps,
                                            int hidden) {
    EACH(i, batch * steps * hidden) {
        int j = i % hidden, t = (i / hidden) % steps, b = i / (hidden * steps);
        out[i] = hs[((long long)(t + 1) * batch + b) * hidden + j];
    }
}

// Backward through step t: dgx [B, T, G] and dgh time-major [T, B, G].
extern "C" __global__ void rnn_step_backward(const float* gy, const float* dh_next,
                                             const float* hs, float* dgx, float* dgh, int batch,
                                             int steps, int hidden, int t) {
    EACH(i, batch * hidden) {
        int b = i / hidden, j = i % hidden;
        float dh = gy[((long long)b * steps + t) * hidden + j] + dh_next[i];
        float hc = hs[((long long)(t + 1) * batch + b) * hidden + j];
        float d = dh * (1.0f - hc * hc);
        dgx[((long long)b * steps + t) * hidden + j] = d;
        dgh[((long long)t * batch + b) * hidden + j] = d;
    }
}

// dc carries the cell state's gradient from step t + 1 in, to t - 1 out.
extern "C" __global__ void lstm_step_backward(const float* gy, const float* dh_next,
                                              const float* gates, const float* cs, float* dc,
                                              float* dgx, float* dgh, int batch, int steps,
                                              int hidden, int t) {
    int g4 = 4 * hidden;
    EACH(i, batch * hidden) {
        int b = i / hidden, j = i % hidden;
        float dh = gy[((long long)b * steps + t) * hidden + j] + dh_next[i];
        const float* gs = gates + ((long long)t * batch + b) * g4;
        float gi = gs[j], gf = gs[hidden + j], gg = gs[2 * hidden + j], go = gs[3 * hidden + j];
        float c = cs[((long long)(t + 1) * batch + b) * hidden + j];
        float cp = cs[((long long)t * batch + b) * hidden + j];
        float tc = tanhf(c);
        float dcj = dh * go * (1.0f - tc * tc) + dc[i];
        dc[i] = dcj * gf;
        float d[4] = {dcj * gg * gi * (1.0f - gi), dcj * cp * gf * (1.0f - gf),
                      dcj * gi * (1.0f - gg * gg), dh * tc * go * (1.0f - go)};
        float* x = dgx + ((long long)b * steps + t) * g4;
        float* h = dgh + ((long long)t * batch + b) * g4;
        for (int q = 0; q < 4; q++) { x[q * hidden + j] = d[q]; h[q * hidden + j] = d[q]; }
    }
}

// `direct` receives the gradient of the path h' = ... + z * h.
extern "C" __global__ void gru_step_backward(const float* gy, const float* dh_next,
                                             const float* gates, const float* hs,
                                             const float* hn, float* direct, float* dgx,
                                             float* dgh, int batch, int steps, int hidden,
                                             int t) {
    int g3 = 3 * hidden;
    EACH(i, batch * hidden) {
        int b = i / hidden, j = i % hidden;
        float dh = gy[((long long)b * steps + t) * hidden + j] + dh_next[i];
        const float* gs = gates + ((long long)t * batch + b) * g3;
        float r = gs[j], z = gs[hidden + j], n = gs[2 * hidden + j];
        float hp = hs[((long long)t * batch + b) * hidden + j];
        float dn = dh * (1.0f - z) * (1.0f - n * n);
        float dz = dh * (hp - n) * z * (1.0f - z);
        float dr = dn * hn[((long long)t * batch + b) * hidden + j] * r * (1.0f - r);
        float* x = dgx + ((long long)b * steps + t) * g3;
        float* h = dgh + ((long long)t * batch + b) * g3;
        x[j] = dr; x[hidden + j] = dz; x[2 * hidden + j] = dn;
        h[j] = dr; h[hidden + j] = dz; h[2 * hidden + j] = dn * r;
        direct[i] = dh * z;
    }
}

extern "C" __global__ void last_step(const float* x, float* y, int batch, int steps, int f) {
    EACH(i, batch * f) {
        int b = i / f, j = i % f;
        y[i] = x[((long long)b * steps + steps - 1) * f + j];
    }
}

// Into a zeroed dx.
extern "C" __global__ void last_step_backward(const float* gy, float* dx, int batch, int steps,
                                              int f) {
    EACH(i, batch * f) {
        int b = i / f, j = i % f;
        dx[((long long)b * steps + steps - 1) * f + j] = gy[i];
    }
}

