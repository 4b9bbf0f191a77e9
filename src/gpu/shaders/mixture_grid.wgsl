// Mixture log-density on a grid, and the grid reductions that give f-divergence values.
//
// Entry points:
// - log_density_grid: log q(c) = logsumexp_k [ log w_k + log N(c; mu_k, L_k L_k^T) ] at every
//   cell centre c = (x_min + (j + 1/2) dx, y_min + (i + 1/2) dy), row-major, row 0 at y_min
//   (the layout of core::grid::Grid). Components are packed 8 floats each:
//   [log w_k + log_norm_k, mu_x, mu_y, 1/l11, l21, 1/l22, 0, 0], log_norm = -ln 2pi - ln l11 - ln l22.
// - fdiv_partials: per cell, with p = exp(log p - log_zp), q = exp(log q - log_zq):
//     t0 = p (log p - log q)                     (forward KL integrand)
//     t1 = q (log q - log p)                     (reverse KL integrand)
//     t2 = 1/2 [p log(2p/(p+q)) + q log(2q/(p+q))]   (Jensen-Shannon integrand)
//     t3 = p, t4 = q                              (masses)
//   reduced by a tree in workgroup memory to one partial sum per workgroup (no float atomics).
// - fdiv_final: one workgroup sums the partials (strided, then a tree) into out[0..5].
// The caller multiplies by the cell area (midpoint rule), in f64.

struct GridParams {
    nx: u32,
    ny: u32,
    k: u32,
    _pad: u32,
    x_min: f32,
    y_min: f32,
    dx: f32,
    dy: f32,
};

struct ReduceParams {
    len: u32,
    n_partials: u32,
    log_zp: f32,
    log_zq: f32,
};

const WG: u32 = 256u;
const NTERMS: u32 = 5u;
const LN2: f32 = 0.6931471805599453;

@group(0) @binding(0) var<uniform> gp: GridParams;
@group(0) @binding(1) var<storage, read> comps: array<f32>;
@group(0) @binding(2) var<storage, read_write> log_q_out: array<f32>;

var<workgroup> wcomp: array<f32, 512>;

@compute @workgroup_size(256)
fn log_density_grid(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let n_floats = gp.k * 8u;
    for (var t = lid.x; t < n_floats; t = t + WG) {
        wcomp[t] = comps[t];
    }
    workgroupBarrier();
    let idx = gid.x;
    if (idx >= gp.nx * gp.ny) {
        return;
    }
    let i = idx / gp.nx;
    let j = idx % gp.nx;
    let c = vec2<f32>(gp.x_min + (f32(j) + 0.5) * gp.dx, gp.y_min + (f32(i) + 0.5) * gp.dy);
    var m = -3.0e38;
    var s = 0.0;
    for (var kk = 0u; kk < gp.k; kk = kk + 1u) {
        let o = kk * 8u;
        let z1 = (c.x - wcomp[o + 1u]) * wcomp[o + 3u];
        let z2 = (c.y - wcomp[o + 2u] - wcomp[o + 4u] * z1) * wcomp[o + 5u];
        let t = wcomp[o] - 0.5 * (z1 * z1 + z2 * z2);
        if (t > m) {
            s = s * exp(m - t) + 1.0;
            m = t;
        } else {
            s = s + exp(t - m);
        }
    }
    log_q_out[idx] = m + log(s);
}

@group(0) @binding(0) var<uniform> rp: ReduceParams;
@group(0) @binding(1) var<storage, read> log_p: array<f32>;
@group(0) @binding(2) var<storage, read> log_q: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

var<workgroup> red: array<f32, 1280>;

fn tree_reduce(lid: u32) {
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        workgroupBarrier();
        if (lid < stride) {
            for (var t = 0u; t < NTERMS; t = t + 1u) {
                red[t * WG + lid] = red[t * WG + lid] + red[t * WG + lid + stride];
            }
        }
    }
    workgroupBarrier();
}

@compute @workgroup_size(256)
fn fdiv_partials(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let idx = gid.x;
    var v = array<f32, 5>(0.0, 0.0, 0.0, 0.0, 0.0);
    if (idx < rp.len) {
        let lp = log_p[idx] - rp.log_zp;
        let lq = log_q[idx] - rp.log_zq;
        let p = exp(lp);
        let q = exp(lq);
        let mx = max(lp, lq);
        let lm = mx + log(exp(lp - mx) + exp(lq - mx)) - LN2;
        if (p > 0.0) {
            v[0] = p * (lp - lq);
            v[2] = 0.5 * p * (lp - lm);
        }
        if (q > 0.0) {
            v[1] = q * (lq - lp);
            v[2] = v[2] + 0.5 * q * (lq - lm);
        }
        v[3] = p;
        v[4] = q;
    }
    for (var t = 0u; t < NTERMS; t = t + 1u) {
        red[t * WG + lid.x] = v[t];
    }
    tree_reduce(lid.x);
    if (lid.x == 0u) {
        for (var t = 0u; t < NTERMS; t = t + 1u) {
            partials[wid.x * NTERMS + t] = red[t * WG];
        }
    }
}

@group(0) @binding(0) var<uniform> fp: ReduceParams;
@group(0) @binding(1) var<storage, read> parts_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> sums_out: array<f32>;

@compute @workgroup_size(256)
fn fdiv_final(@builtin(local_invocation_id) lid: vec3<u32>) {
    var v = array<f32, 5>(0.0, 0.0, 0.0, 0.0, 0.0);
    for (var w = lid.x; w < fp.n_partials; w = w + WG) {
        for (var t = 0u; t < NTERMS; t = t + 1u) {
            v[t] = v[t] + parts_in[w * NTERMS + t];
        }
    }
    for (var t = 0u; t < NTERMS; t = t + 1u) {
        red[t * WG + lid.x] = v[t];
    }
    tree_reduce(lid.x);
    if (lid.x == 0u) {
        for (var t = 0u; t < NTERMS; t = t + 1u) {
            sums_out[t] = red[t * WG];
        }
    }
}
