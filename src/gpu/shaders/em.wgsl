// EM for Gaussian mixtures: E-step responsibilities (log-domain) and the M-step's weighted sums,
// reduced by a tree in workgroup memory, then across workgroups in a second pass (no float atomics).
//
// em_partials (one invocation per sample x_i with weight v_i, 256 per workgroup):
//   t_ik = log w_k + log N(x_i; mu_k, L_k L_k^T)        (components packed as in mixture_grid.wgsl)
//   log q_i = logsumexp_k t_ik,  r_ik = exp(t_ik - log q_i)
//   for every component k, with d = x_i - mu_k (shifted by the current mean for f32 accuracy):
//     [sum v r, sum v r d.x, sum v r d.y, sum v r d.x d.x, sum v r d.x d.y, sum v r d.y d.y]
//   and sum v log q_i (EM uses v = 1; the grid f-divergence gradient uses quadrature weights), written per workgroup to partials[wg * stride + ...], stride = 6K + 1.
// em_final (one workgroup per statistic): sums the partials of that statistic across workgroups.

struct Params {
    n: u32,
    k: u32,
    stride: u32,
    n_partials: u32,
};

const WG: u32 = 256u;
const NS: u32 = 6u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> samples: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> comps: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read> sample_w: array<f32>;

var<workgroup> wcomp: array<f32, 512>;
var<workgroup> red: array<f32, 1536>;

fn log_term(x: vec2<f32>, kk: u32) -> f32 {
    let o = kk * 8u;
    let z1 = (x.x - wcomp[o + 1u]) * wcomp[o + 3u];
    let z2 = (x.y - wcomp[o + 2u] - wcomp[o + 4u] * z1) * wcomp[o + 5u];
    return wcomp[o] - 0.5 * (z1 * z1 + z2 * z2);
}

@compute @workgroup_size(256)
fn em_partials(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    for (var t = lid.x; t < params.k * 8u; t = t + WG) {
        wcomp[t] = comps[t];
    }
    workgroupBarrier();
    let i = gid.x;
    let in_range = i < params.n;
    var x = vec2<f32>(0.0, 0.0);
    var wi = 0.0;
    if (in_range) {
        x = samples[i];
        wi = sample_w[i];
    }
    // log q(x) by a two-pass log-sum-exp over the components
    var m = -3.0e38;
    for (var kk = 0u; kk < params.k; kk = kk + 1u) {
        m = max(m, log_term(x, kk));
    }
    var s = 0.0;
    for (var kk = 0u; kk < params.k; kk = kk + 1u) {
        s = s + exp(log_term(x, kk) - m);
    }
    let log_q = m + log(s);
    for (var kk = 0u; kk < params.k; kk = kk + 1u) {
        var v = array<f32, 6>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        if (in_range) {
            let r = wi * exp(log_term(x, kk) - log_q);
            let d = x - vec2<f32>(wcomp[kk * 8u + 1u], wcomp[kk * 8u + 2u]);
            v[0] = r;
            v[1] = r * d.x;
            v[2] = r * d.y;
            v[3] = r * d.x * d.x;
            v[4] = r * d.x * d.y;
            v[5] = r * d.y * d.y;
        }
        for (var t = 0u; t < NS; t = t + 1u) {
            red[t * WG + lid.x] = v[t];
        }
        for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
            workgroupBarrier();
            if (lid.x < stride) {
                for (var t = 0u; t < NS; t = t + 1u) {
                    red[t * WG + lid.x] = red[t * WG + lid.x] + red[t * WG + lid.x + stride];
                }
            }
        }
        workgroupBarrier();
        if (lid.x == 0u) {
            for (var t = 0u; t < NS; t = t + 1u) {
                partials[wid.x * params.stride + kk * NS + t] = red[t * WG];
            }
        }
        workgroupBarrier();
    }
    // log-likelihood
    var ll = 0.0;
    if (in_range) {
        ll = wi * log_q;
    }
    red[lid.x] = ll;
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        workgroupBarrier();
        if (lid.x < stride) {
            red[lid.x] = red[lid.x] + red[lid.x + stride];
        }
    }
    workgroupBarrier();
    if (lid.x == 0u) {
        partials[wid.x * params.stride + params.stride - 1u] = red[0];
    }
}

@group(0) @binding(0) var<uniform> fparams: Params;
@group(0) @binding(1) var<storage, read> parts_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> sums_out: array<f32>;

var<workgroup> fred: array<f32, 256>;

@compute @workgroup_size(256)
fn em_final(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let stat = wid.x;
    var acc = 0.0;
    for (var w = lid.x; w < fparams.n_partials; w = w + WG) {
        acc = acc + parts_in[w * fparams.stride + stat];
    }
    fred[lid.x] = acc;
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        workgroupBarrier();
        if (lid.x < stride) {
            fred[lid.x] = fred[lid.x] + fred[lid.x + stride];
        }
    }
    if (lid.x == 0u) {
        sums_out[stat] = fred[0];
    }
}
