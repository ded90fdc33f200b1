// Batch and layer normalization (backend/cuda/norm.rs).
// ---- normalization ---------------------------------------------------------
// Batch norm: element i belongs to channel (i / inner) % channels; outer is
// len / (channels * inner). A block per channel for the sums.

extern "C" __global__ void moments(const float* x, float* mean, float* var, int channels,
                                   int inner, int outer) {
    for (int c = blockIdx.x; c < channels; c += gridDim.x) {
        double s = 0.0, sq = 0.0;
        for (int i = threadIdx.x; i < outer * inner; i += blockDim.x) {
            float v = x[((long long)(i / inner) * channels + c) * inner + i % inner];
            s += v;
            sq += (double)v * v;
        }
        s = block_sum(s);
        sq = block_sum(sq);
        if (threadIdx.x == 0) {
            double n = (double)outer * inner;
            float m = (float)(s / n);
            mean[c] = m;
            var[c] = (float)fmax(sq / n - (double)m * m, 0.0);
        }
    }
}

extern "C" __global__ void running_update(const float* running, const float* batch, float* out,
                                          int n, float momentum, double scale_by) {
    EACH(i, n) out[i] = (1.0f - momentum) * running[i] + momentum * (float)(batch[i] * scale_by);
}

extern "C" __global__ void inv_std(const float* var, float* inv, int n, float eps) {
    EACH(i, n) inv[i] = 1.0f / sqrtf(var[i] + eps);
}

extern "C" __global__ void batch_norm(const float* x, const float* mean, const float* inv,
                                      const float* gamma, const float* beta, float* xhat,
                                      float* y, int n, int channels, int inner) {
    EACH(i, n) {
        int c = (i / inner) % channels;
        float h = (x[i] - mean[c]) * inv[c];
        xhat[i] = h;
        y[i] = h * gamma[c] + beta[c];
    }
}

// Per channel: sum_g and sum_gx for dx, added into dgamma and dbeta too.
extern "C" __global__ void batch_norm_sums(const float* gy, const float* xhat, float* sum_g,
                                           float* sum_gx, float* dgamma, float* dbeta,
                                           int channels, int inner, int outer) {
    for (int c = blockIdx.x; c < channels; c += gridDim.x) {
        double sg = 0.0, sgx = 0.0;
        for (int i = threadIdx.x; i < outer * inner; i += blockDim.x) {
            long long j = ((long long)(i / inner) * channels + c) * inner + i % inner;
            sg += gy[j];
            sgx += (double)gy[j] * xhat[j];
        }
        sg = block_sum(sg);
        sgx = block_sum(sgx);
        if (threadIdx.x == 0) {
            sum_g[c] = (float)sg;
            sum_gx[c] = (float)sgx;
            dgamma[c] += (float)sgx;
            dbeta[c] += (float)sg;
        }
    }
}

extern "C" __global__ void batch_norm_dx(const float* gy, const float* xhat, const float* gamma,
                                         const float* inv, const float* sum_g,
                                         const float* sum_gx, float* dx, int n, int channels,
                                         int inner, int train) {
    float count = (float)(n / channels);
    EACH(i, n) {
        int c = (i / inner) % channels;
        dx[i] = train ? gamma[c] * inv[c] / count * (count * gy[i] - sum_g[c] - xhat[i] * sum_gx[c])
                      : gy[i] * gamma[c] * inv[c];
    }
}

// A block per row of `width`.
extern "C" __global__ void layer_norm(const float* x, const float* gamma, const float* beta,
                                      float eps, float* xhat, float* y, float* inv, int rows,
                                      int width) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + (long long)r * width;
        double s = 0.0;
        for (int j = threadIdx.x; j < width; j += blockDim.x) s += xr[j];
        float mean = (float)(block_sum(s) / width);
        double sq = 0.0;
        for (int j = threadIdx.x; j < width; j += blockDim.x) {
            float d = xr[j] - mean;
            sq += (double)d * d;
        }
        float is = 1.0f / sqrtf((float)(block_sum(sq) / width) + eps);
        if (threadIdx.x == 0) inv[r] = is;
        for (int j = threadIdx.x; j < width; j += blockDim.x) {
            float h = (xr[j] - mean) * is;
            xhat[(long long)r * width + j] = h;
            y[(long long)r * width + j] = h * gamma[j] + beta[j];
        }
    }
}

// dgamma[j] += sum_r gy*xhat, dbeta[j] += sum_r gy; a block per column.
extern "C" __global__ void layer_norm_params(const float* gy, const float* xhat, float* dgamma,
                                             float* dbeta, int rows, int width) {
    for (int j = blockIdx.x; j < width; j += gridDim.x) {
        double sg = 0.0, sgx = 0.0;
        for (int r = threadIdx.x; r < rows; r += blockDim.x) {
            long long i = (long long)r * width + j;
            sg += gy[i];
            sgx += (double)gy[i] * xhat[i];
        }
        sg = block_sum(sg);
        sgx = block_sum(sgx);
        if (threadIdx.x == 0) {
            dgamma[j] += (float)sgx;
            dbeta[j] += (float)sg;
        }
    }
}

extern "C" __global__ void layer_norm_dx(const float* gy, const float* xhat, const float* gamma,
                                         const float* inv, float* dx, int rows, int width) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        long long o = (long long)r * width;
        double s1 = 0.0, s2 = 0.0;
        for (int j = threadIdx.x; j < width; j += blockDim.x) {
            float gh = gy[o + j] * gamma[j];
            s1 += gh;
            s2 += (double)gh * xhat[o + j];
        }
        float a = (float)block_sum(s1), b = (float)block_sum(s2);
        float n = (float)width;
        for (int j = threadIdx.x; j < width; j += blockDim.x) {
            float gh = gy[o + j] * gamma[j];
            dx[o + j] = inv[r] / n * (n * gh - a - xhat[o + j] * b);
        }
    }
}

