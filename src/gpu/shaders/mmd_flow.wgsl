// Pairwise kernel sums for MMD flows, tiled through workgroup memory (no N x M matrix).
//
// For every row point r_i (one invocation per row):
//   out[i].xy = sum_j w_j grad_1 k(r_i, c_j)      (gradient of k in its first argument)
//   out[i].z  = sum_j w_j k(r_i, c_j)
// Columns (c_j, w_j) stream through workgroup memory 256 at a time.
// Kernels (kind), d = r - c, s = |d|^2, with the parameter `p`:
//   0 gaussian:              k = exp(-s / (2 p^2)),       grad = -d / p^2 * k
//   1 inverse multiquadric:  k = (1 + s/p^2)^(-1/2),      grad = -d / p^2 (1 + s/p^2)^(-3/2)
//   2 laplace:               k = exp(-|d| / p),           grad = -d / (p |d|) * k   (0 at d = 0)
//   3 riesz (energy):        k = -|d|^p,  p in (0, 2),    grad = -p |d|^(p-2) d     (0 at d = 0)

struct Params {
    n_rows: u32,
    n_cols: u32,
    kind: u32,
    p: f32,
};

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> rows: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> cols: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> col_w: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;

var<workgroup> tile_c: array<vec2<f32>, WG>;
var<workgroup> tile_w: array<f32, WG>;

// Returns (grad.x, grad.y, k).
fn kernel_terms(d: vec2<f32>) -> vec3<f32> {
    let s = dot(d, d);
    let p = params.p;
    switch params.kind {
        case 0u: {
            let k = exp(-s / (2.0 * p * p));
            return vec3<f32>(-d * (k / (p * p)), k);
        }
        case 1u: {
            let u = 1.0 + s / (p * p);
            let k = inverseSqrt(u);
            return vec3<f32>(-d * (k / (u * p * p)), k);
        }
        case 2u: {
            let r = sqrt(s);
            let k = exp(-r / p);
            if (r > 0.0) {
                return vec3<f32>(-d * (k / (p * r)), k);
            }
            return vec3<f32>(0.0, 0.0, k);
        }
        default: {
            if (s > 0.0) {
                let rp = pow(s, 0.5 * p);
                return vec3<f32>(-d * (p * rp / s), -rp);
            }
            return vec3<f32>(0.0, 0.0, 0.0);
        }
    }
}

@compute @workgroup_size(256)
fn pair_sums(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = gid.x;
    let in_range = i < params.n_rows;
    var r = vec2<f32>(0.0, 0.0);
    if (in_range) {
        r = rows[i];
    }
    var acc = vec3<f32>(0.0, 0.0, 0.0);
    let n_tiles = (params.n_cols + WG - 1u) / WG;
    for (var t = 0u; t < n_tiles; t = t + 1u) {
        let j = t * WG + lid.x;
        if (j < params.n_cols) {
            tile_c[lid.x] = cols[j];
            tile_w[lid.x] = col_w[j];
        } else {
            tile_c[lid.x] = vec2<f32>(0.0, 0.0);
            tile_w[lid.x] = 0.0;
        }
        workgroupBarrier();
        let count = min(WG, params.n_cols - t * WG);
        for (var k = 0u; k < count; k = k + 1u) {
            acc = acc + tile_w[k] * kernel_terms(r - tile_c[k]);
        }
        workgroupBarrier();
    }
    if (in_range) {
        out[i] = vec4<f32>(acc, 0.0);
    }
}
