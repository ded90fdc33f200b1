// Losses and optimizer rules (backend/cuda/loss.rs, update.rs).
// ---- losses ----------------------------------------------------------------
// Each writes a loss term per row (or element) and a correct flag per row;
// `loss_totals` adds them up on the device.

__device__ int argmax_row(const float* row, int k) {
    int bi = 0;
    float bv = NEG_INF;
    for (int j = 0; j < k; j++)
        if (row[j] > bv) { bv = row[j]; bi = j; }
    return bi;
}

// Softmax cross-entropy of row r against class c, its gradient scaled by
// `weight / rows`; returns the row's loss.
__device__ double cross_entropy_row(const float* row, float* g, int k, unsigned c, int rows,
                                    float weight) {
    float m = NEG_INF;
    for (int j = 0; j < k; j++) m = fmaxf(m, row[j]);
    float s = 0.0f;
    for (int j = 0; j < k; j++) { g[j] = expf(row[j] - m); s += g[j]; }
    float log_z = m + logf(s);
    float sc = weight / (s * (float)rows);
    for (int j = 0; j < k; j++) g[j] *= sc;
    g[c] -= weight / (float)rows;
    return (double)(log_z - row[c]);
}

extern "C" __global__ void cross_entropy(const float* out, const unsigned* t, float* grad,
                                         double* row_loss, int* correct, int rows, int k) {
    EACH(r, rows) {
        const float* row = out + (long long)r * k;
        row_loss[r] = cross_entropy_row(row, grad + (long long)r * k, k, t[r], rows, 1.0f);
        correct[r] = argmax_row(row, k) == (int)t[r];
    }
}

// Hinton et al. 2015: alpha T^2 KL(softmax(teacher/T) || softmax(out/T))
// plus (1 - alpha) cross-entropy with the labels.
extern "C" __global__ void distill(const float* out, const float* teacher, const unsigned* t,
                                   float* grad, double* row_loss, int* correct, int rows, int k,
                                   float temp, float alpha) {
    EACH(r, rows) {
        const float* s = out + (long long)r * k;
        const float* te = teacher + (long long)r * k;
        float* g = grad + (long long)r * k;
        double hard = cross_entropy_row(s, g, k, t[r], rows, 1.0f - alpha);
        float ms = NEG_INF, mt = NEG_INF;
        for (int j = 0; j < k; j++) { ms = fmaxf(ms, s[j] / temp); mt = fmaxf(mt, te[j] / temp); }
        float zs = 0.0f, zt = 0.0f;
        for (int j = 0; j < k; j++) { zs += expf(s[j] / temp - ms); zt += expf(te[j] / temp - mt); }
        double kl = 0.0;
        for (int j = 0; j < k; j++) {
            float ps = expf(s[j] / temp - ms) / zs, pt = expf(te[j] / temp - mt) / zt;
            if (pt > 0.0f) kl += (double)pt * (log((double)fmaxf(pt, 1e-30f)) - log((double)fmaxf(ps, 1e-30f)));
            g[j] += alpha * temp * (ps - pt) / (float)rows;
        }
        row_loss[r] = (double)alpha * temp * temp * kl + (1.0 - alpha) * hard;
        correct[r] = argmax_row(s, k) == (int)t[r];
    }
}

// Target of element i: a value, or (classes given) one-hot, or (k == 1) the class.
__device__ float target_of(const float* values, const unsigned* classes, long long i, int k) {
    if (values) return values[i];
    if (k == 1) return (float)classes[i];
    return classes[i / k] == (unsigned)(i % k) ? 1.0f : 0.0f;
}

extern "C" __global__ void mse(const float* out, const float* values, const unsigned* classes,
                               float* grad, double* term, int n, int k) {
    EACH(i, n) {
        float d = out[i] - target_of(values, classes, i, k);
        term[i] = (double)d * d;
        grad[i] = 2.0f * d / (float)n;
    }
}

extern "C" __global__ void bce(const float* out, const unsigned* classes, float* grad,
                               double* term, int n, int k) {
    EACH(i, n) {
        float x = out[i], t = target_of(0, classes, i, k);
        term[i] = (double)(fmaxf(x, 0.0f) - x * t + log1pf(expf(-fabsf(x))));
        grad[i] = (sigmoidf(x) - t) / (float)n;
    }
}

// Correct predictions per row: argmax, or for one logit its sign.
extern "C" __global__ void hits(const float* out, const unsigned* t, int* correct, int rows,
                                int k) {
    EACH(r, rows) {
        const float* row = out + (long long)r * k;
        correct[r] = k == 1 ? ((row[0] > 0.0f) == (t[r] == 1u)) : argmax_row(row, k) == (int)t[r];
    }
}

// totals[0] = the sum of `terms`, totals[1] = the sum of `flags`; one block.
extern "C" __global__ void loss_totals(const double* terms, int n, const int* flags, int rows,
                                       double* totals) {
    double s = 0.0, c = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += terms[i];
    for (int i = threadIdx.x; i < rows; i += blockDim.x) c += flags ? flags[i] : 0;
    s = block_sum(s);
    c = block_sum(c);
    if (threadIdx.x == 0) { totals[0] = s; totals[1] = c; }
}

// ---- optimizers ------------------------------------------------------------
// PyTorch's rules, as the CPU backend applies them (dfdx's for SGD and Adam).

extern "C" __global__ void penalize(float* g, const float* w, int n, double l1, double l2) {
    EACH(i, n) g[i] += (float)(l1 * copysign(1.0, (double)w[i]) + 2.0 * l2 * w[i]);
}

// momentum 0: plain; nesterov 1: Nesterov's; wd: L2 weight decay.
extern "C" __global__ void sgd(float* w, const float* g, float* v, int n, float lr, float wd,
                               float momentum, int nesterov) {
    EACH(i, n) {
        float gi = g[i];
        if (wd != 0.0f) gi += wd * w[i];
        float step;
        if (momentum != 0.0f) {
            float vi = gi + momentum * v[i];
            v[i] = vi;
            step = (nesterov ? gi + momentum * vi : vi) * lr;
        } else {
            step = gi * lr;
        }
        w[i] -= step;
    }
}

// decoupled: AdamW's weight decay (lr * wd * w), else L2 on the gradient.
extern "C" __global__ void adam(float* w, const float* g, float* m, float* v, int n, float lr,
                                float b1, float b2, float eps, float wd, int decoupled,
                                float c1, float c2) {
    EACH(i, n) {
        float gi = g[i];
        if (wd != 0.0f && !decoupled) gi += wd * w[i];
        float mi = m[i] * b1 + gi * (1.0f - b1);
        float vi = v[i] * b2 + gi * gi * (1.0f - b2);
        m[i] = mi;
        v[i] = vi;
        float step = lr * (mi * c1) / (sqrtf(vi * c2) + eps);
        if (decoupled) step += wd * lr * w[i];
        w[i] -= step;
    }
}

extern "C" __global__ void rmsprop(float* w, const float* g, float* a, float* b, int n, float lr,
                                   float alpha, float eps, float wd, float momentum) {
    EACH(i, n) {
        float gi = g[i] + wd * w[i];
        a[i] = alpha * a[i] + (1.0f - alpha) * gi * gi;
        float step = gi / (sqrtf(a[i]) + eps);
        if (momentum > 0.0f) {
            b[i] = momentum * b[i] + step;
            w[i] -= lr * b[i];
        } else {
            w[i] -= lr * step;
        }
    }
}

extern "C" __global__ void adagrad(float* w, const float* g, float* a, int n, float lr,
                                   float eps, float wd) {
    EACH(i, n) {
        float gi = g[i] + wd * w[i];
        a[i] += gi * gi;
        w[i] -= lr * gi / (sqrtf(a[i]) + eps);
    }
}

extern "C" __global__ void adadelta(float* w, const float* g, float* a, float* b, int n,
                                    float lr, float rho, float eps, float wd) {
    EACH(i, n) {
        float gi = g[i] + wd * w[i];
        a[i] = rho * a[i] + (1.0f - rho) * gi * gi;
        float delta = sqrtf(b[i] + eps) / sqrtf(a[i] + eps) * gi;
        b[i] = rho * b[i] + (1.0f - rho) * delta * delta;
        w[i] -= lr * delta;
    }
}
