// What every kernel file of backend/cuda begins with (module.rs prepends it).
// Layouts are the CPU backend's: flat, row-major, batch first. Sums are
// taken in double, so that results stay within rounding of the CPU's
// whatever order the threads add in.

#define NEG_INF __int_as_float(0xff800000)

#define EACH(i, n) \
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

// The sum of `v` over the block, in every thread. Blocks are a whole
// number of warps, at most 1024 threads.
__device__ double block_sum(double v) {
    __shared__ double warp_sums[32];
    __shared__ double total;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) {
        int warps = (blockDim.x + 31) >> 5;
        v = lane < warps ? warp_sums[lane] : 0.0;
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
        if (lane == 0) total = v;
    }
    __syncthreads();
    double t = total;
    __syncthreads();
    return t;
}


__device__ float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }
