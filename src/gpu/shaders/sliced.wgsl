// Sliced Riesz (energy, r = 1) MMD gradient: projections, a bitonic sort per slice, and a scan.
//
// Slices run in parallel along the dispatch's y axis. Per slice s with unit direction d_s:
// - project:      key[s][k] = <p_k, d_s> for the merged points p = (x_0..x_{n-1}, y_0..y_{m-1}),
//                 idx[s][k] = k; padding (k >= n + m, up to the power of two l_pad) gets +3e38.
// - bitonic_step: one compare-exchange stage (k, j) of a bitonic sort by (key, idx), ascending
//                 (log2(l_pad)(log2(l_pad)+1)/2 stages, all in one submission).
// - scan_grad:    one workgroup per slice walks the sorted order with the masses ranked below,
//                 A_< (of x) and B_< (of y), by a chunked workgroup scan, and writes for x_i
//                 g[s][i] = 2 a_i [(2 B_< - 1) - (2 A_< + a_i - 1)] and the slice's 1D value
//                 sum_k (A_< - B_<)^2 (key_k - key_{k-1}).
// - reduce_grad:  grad_i = sum_s g[s][i] d_s (no float atomics: one invocation per particle).
// Weights a and b each sum to one (as in core::sliced).

struct Params {
    n: u32,
    m: u32,
    l_pad: u32,
    p: u32,
    k: u32,
    j: u32,
    _a: u32,
    _b: u32,
};

const WG: u32 = 256u;
const PAD: f32 = 3.0e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> pts: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> dirs: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> keys: array<f32>;
@group(0) @binding(4) var<storage, read_write> idxs: array<u32>;

@compute @workgroup_size(256)
fn project(@builtin(global_invocation_id) gid: vec3<u32>) {
    let k = gid.x;
    let s = gid.y;
    if (k >= params.l_pad) {
        return;
    }
    let o = s * params.l_pad + k;
    if (k < params.n + params.m) {
        keys[o] = dot(pts[k], dirs[s]);
    } else {
        keys[o] = PAD;
    }
    idxs[o] = k;
}

@compute @workgroup_size(256)
fn bitonic_step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    let s = gid.y;
    if (t >= params.l_pad / 2u) {
        return;
    }
    let j = params.j;
    let i = 2u * j * (t / j) + (t % j);
    let l = i + j;
    let up = (i & params.k) == 0u;
    let oi = s * params.l_pad + i;
    let ol = s * params.l_pad + l;
    let ki = keys[oi];
    let kl = keys[ol];
    let ii = idxs[oi];
    let il = idxs[ol];
    let i_gt_l = (ki > kl) || (ki == kl && ii > il);
    if (i_gt_l == up) {
        keys[oi] = kl;
        keys[ol] = ki;
        idxs[oi] = il;
        idxs[ol] = ii;
    }
}

@group(0) @binding(0) var<uniform> sp: Params;
@group(0) @binding(1) var<storage, read> s_keys: array<f32>;
@group(0) @binding(2) var<storage, read> s_idxs: array<u32>;
@group(0) @binding(3) var<storage, read> wts: array<f32>;
@group(0) @binding(4) var<storage, read_write> contrib: array<f32>;
@group(0) @binding(5) var<storage, read_write> slice_values: array<f32>;

var<workgroup> sa: array<f32, 256>;
var<workgroup> sb: array<f32, 256>;

@compute @workgroup_size(256)
fn scan_grad(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let s = wid.x;
    let base = s * sp.l_pad;
    let real = sp.n + sp.m;
    let chunk = (sp.l_pad + WG - 1u) / WG;
    let start = min(lid.x * chunk, sp.l_pad);
    let stop = min(start + chunk, sp.l_pad);
    // chunk masses
    var ca = 0.0;
    var cb = 0.0;
    for (var q = start; q < stop; q = q + 1u) {
        let id = s_idxs[base + q];
        if (id < sp.n) {
            ca = ca + wts[id];
        } else if (id < real) {
            cb = cb + wts[id];
        }
    }
    sa[lid.x] = ca;
    sb[lid.x] = cb;
    workgroupBarrier();
    // exclusive scan of the 256 chunk masses (serial in thread 0: 256 adds)
    if (lid.x == 0u) {
        var ra = 0.0;
        var rb = 0.0;
        for (var t = 0u; t < WG; t = t + 1u) {
            let xa = sa[t];
            let xb = sb[t];
            sa[t] = ra;
            sb[t] = rb;
            ra = ra + xa;
            rb = rb + xb;
        }
    }
    workgroupBarrier();
    var a_below = sa[lid.x];
    var b_below = sb[lid.x];
    var value = 0.0;
    for (var q = start; q < stop; q = q + 1u) {
        let id = s_idxs[base + q];
        if (id >= real) {
            continue;
        }
        if (q > 0u) {
            let diff = a_below - b_below;
            value = value + diff * diff * max(s_keys[base + q] - s_keys[base + q - 1u], 0.0);
        }
        if (id < sp.n) {
            let ai = wts[id];
            contrib[s * sp.n + id] = 2.0 * ai * ((2.0 * b_below - 1.0) - (2.0 * a_below + ai - 1.0));
            a_below = a_below + ai;
        } else {
            b_below = b_below + wts[id];
        }
    }
    workgroupBarrier();
    sa[lid.x] = value;
    for (var st = WG / 2u; st > 0u; st = st / 2u) {
        workgroupBarrier();
        if (lid.x < st) {
            sa[lid.x] = sa[lid.x] + sa[lid.x + st];
        }
    }
    if (lid.x == 0u) {
        slice_values[s] = sa[0];
    }
}

@group(0) @binding(0) var<uniform> rp: Params;
@group(0) @binding(1) var<storage, read> r_contrib: array<f32>;
@group(0) @binding(2) var<storage, read> r_dirs: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> grad: array<vec2<f32>>;

@compute @workgroup_size(256)
fn reduce_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= rp.n) {
        return;
    }
    var g = vec2<f32>(0.0, 0.0);
    for (var s = 0u; s < rp.p; s = s + 1u) {
        g = g + r_contrib[s * rp.n + i] * r_dirs[s];
    }
    grad[i] = g;
}
