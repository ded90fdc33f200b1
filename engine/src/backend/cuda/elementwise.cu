// Storage arithmetic, bias terms and activations (backend/cuda/storage.rs, linear.rs).
// ---- storage ---------------------------------------------------------------

extern "C" __global__ void add(const float* a, const float* b, float* out, int n) {
    EACH(i, n) out[i] = a[i] + b[i];
}

extern "C" __global__ void mul(const float* a, const float* b, float* out, int n) {
    EACH(i, n) out[i] = a[i] * b[i];
}

extern "C" __global__ void add_assign(float* into, const float* g, int n) {
    EACH(i, n) into[i] += g[i];
}

extern "C" __global__ void scale(float* a, float by, int n) {
    EACH(i, n) a[i] *= by;
}

// One partial sum of squares per block; the host adds the partials.
extern "C" __global__ void sum_squares(const float* a, int n, double* partial) {
    double s = 0.0;
    EACH(i, n) s += (double)a[i] * (double)a[i];
    s = block_sum(s);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// ---- linear ----------------------------------------------------------------

extern "C" __global__ void add_bias(float* y, const float* bias, int n, int width) {
    EACH(i, n) y[i] += bias[i % width];
}

// y[i] = bias[i % width]: rows started from a bias before a product adds in.
extern "C" __global__ void fill_rows(float* y, const float* bias, int n, int width) {
    EACH(i, n) y[i] = bias[i % width];
}

// into[j] += sum over rows of g[r, j]; a block per column.
extern "C" __global__ void column_sums(float* into, const float* g, int rows, int width) {
    for (int j = blockIdx.x; j < width; j += gridDim.x) {
        double s = 0.0;
        for (int r = threadIdx.x; r < rows; r += blockDim.x) s += g[(long long)r * width + j];
        s = block_sum(s);
        if (threadIdx.x == 0) into[j] += (float)s;
    }
}

// ---- activations -----------------------------------------------------------
// kind: 0 relu, 1 leaky relu, 2 sigmoid, 3 tanh, 4 gelu (ops.rs: Act).

extern "C" __global__ void activate(float* y, int n, int kind, float slope) {
    EACH(i, n) {
        float v = y[i];
        switch (kind) {
            case 0: y[i] = fmaxf(v, 0.0f); break;
            case 1: y[i] = v < 0.0f ? v * slope : v; break;
            case 2: y[i] = sigmoidf(v); break;
            case 3: y[i] = tanhf(v); break;
            case 4: y[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); break;
        }
    }
}

extern "C" __global__ void activate_backward(float* g, const float* y, const float* x, int n,
                                             int kind, float slope) {
    EACH(i, n) {
        float o = y[i];
        switch (kind) {
            case 0: g[i] = o > 0.0f ? g[i] : 0.0f; break;
            case 1: g[i] = (o < 0.0f || (o == 0.0f && slope == 0.0f)) ? g[i] * slope : g[i]; break;
            case 2: g[i] *= o * (1.0f - o); break;
            case 3: g[i] *= 1.0f - o * o; break;
            case 4: {
                float v = x[i];
                float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
                float pdf = 0.3989422804014327f * expf(-0.5f * v * v);
                g[i] *= cdf + v * pdf;
                break;
            }
        }
    }
}

__device__ void softmax_row(float* row, int width) {
    float m = NEG_INF;
    for (int j = 0; j < width; j++) m = fmaxf(m, row[j]);
    float s = 0.0f;
    for (int j = 0; j < width; j++) { row[j] = expf(row[j] - m); s += row[j]; }
    float inv = 1.0f / s;
    for (int j = 0; j < width; j++) row[j] *= inv;
}

extern "C" __global__ void softmax_rows(float* y, int rows, int width) {
    EACH(r, rows) softmax_row(y + (long long)r * width, width);
}

extern "C" __global__ void softmax_backward_rows(float* g, const float* y, int rows, int width) {
    EACH(r, rows) {
        float* gr = g + (long long)r * width;
        const float* yr = y + (long long)r * width;
        float dot = 0.0f;
        for (int j = 0; j < width; j++) dot += gr[j] * yr[j];
        for (int j = 0; j < width; j++) gr[j] = yr[j] * (gr[j] - dot);
    }
}

