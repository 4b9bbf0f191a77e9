// Log-domain Sinkhorn half-iteration, computed online and tiled through workgroup memory.
//
// For every row point x_i (one invocation per row):
//   s_ij  = log_w_j + (h_j - |x_i - y_j|^2) / eps
//   out_i = -eps * logsumexp_j s_ij                       (the soft-min / c-transform of h)
//   bary_i = sum_j softmax_j(s_ij) y_j                     (barycentric projection of the plan row)
// optionally averaged with the previous potential for symmetric problems:
//   out_i = mix * prev_i + (1 - mix) * out_i.
// Cost convention: c(x, y) = |x - y|^2 (no 1/2). No N x M matrix is ever stored: the column data
// (y_j, log_w_j + h_j / eps) is streamed through workgroup memory 256 points at a time, and the
// log-sum-exp is accumulated online (max first per tile, then one exp per pair).

struct Params {
    n_rows: u32,
    n_cols: u32,
    eps: f32,
    mix: f32,
};

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> xs: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> ys: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> log_w: array<f32>;
@group(0) @binding(4) var<storage, read> h: array<f32>;
@group(0) @binding(5) var<storage, read> prev: array<f32>;
@group(0) @binding(6) var<storage, read_write> out_pot: array<f32>;
@group(0) @binding(7) var<storage, read_write> out_bary: array<vec2<f32>>;

var<workgroup> tile_y: array<vec2<f32>, WG>;
var<workgroup> tile_s: array<f32, WG>;

@compute @workgroup_size(256)
fn half_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = gid.x;
    let in_range = i < params.n_rows;
    let inv_eps = 1.0 / params.eps;
    var x = vec2<f32>(0.0, 0.0);
    if (in_range) {
        x = xs[i];
    }
    var m = -3.0e38;
    var acc = 0.0;
    var acc_y = vec2<f32>(0.0, 0.0);
    let n_tiles = (params.n_cols + WG - 1u) / WG;
    for (var t = 0u; t < n_tiles; t = t + 1u) {
        let j_load = t * WG + lid.x;
        if (j_load < params.n_cols) {
            tile_y[lid.x] = ys[j_load];
            tile_s[lid.x] = log_w[j_load] + h[j_load] * inv_eps;
        } else {
            tile_y[lid.x] = vec2<f32>(0.0, 0.0);
            tile_s[lid.x] = -3.0e38;
        }
        workgroupBarrier();
        let count = min(WG, params.n_cols - t * WG);
        // pass 1: tile max
        var tm = -3.0e38;
        for (var k = 0u; k < count; k = k + 1u) {
            let d = x - tile_y[k];
            tm = max(tm, tile_s[k] - dot(d, d) * inv_eps);
        }
        if (tm > m) {
            let r = exp(m - tm);
            acc = acc * r;
            acc_y = acc_y * r;
            m = tm;
        }
        // pass 2: one exp per pair against the running max
        for (var k = 0u; k < count; k = k + 1u) {
            let yk = tile_y[k];
            let d = x - yk;
            let w = exp(tile_s[k] - dot(d, d) * inv_eps - m);
            acc = acc + w;
            acc_y = acc_y + w * yk;
        }
        workgroupBarrier();
    }
    if (in_range) {
        var pot = -params.eps * (m + log(acc));
        if (params.mix > 0.0) {
            pot = params.mix * prev[i] + (1.0 - params.mix) * pot;
        }
        out_pot[i] = pot;
        out_bary[i] = acc_y / acc;
    }
}
