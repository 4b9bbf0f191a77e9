// Marginal error of one Sinkhorn iteration, reduced to one scalar in a single workgroup, so a
// particle flow reads back 4 bytes per chunk of iterations instead of a whole potential.
//
//   err = sum_j w_j |exp((old_j - new_j) / eps) - 1|        (w_j = exp(log_w_j))
//
// the L1 marginal error of the plan built with `old` (as core::sinkhorn's marginal_error; the
// exponent is capped at 80 instead of 700 for f32). mode 1 (symmetric problems) also saves
// `old` into `saved` and replaces it by the averaged potential (old + new) / 2, element-wise.
// The result goes to err_out[slot]. No float atomics: strided per-thread sums, then a tree
// reduction in workgroup memory.

struct Params {
    n: u32,
    mode: u32,
    slot: u32,
    eps: f32,
};

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> log_w: array<f32>;
@group(0) @binding(2) var<storage, read_write> old_pot: array<f32>;
@group(0) @binding(3) var<storage, read> new_pot: array<f32>;
@group(0) @binding(4) var<storage, read_write> saved: array<f32>;
@group(0) @binding(5) var<storage, read_write> err_out: array<f32>;

var<workgroup> part: array<f32, WG>;

// |exp(t) - 1| without the cancellation of exp(t) - 1 in f32 for small t.
fn abs_expm1(t: f32) -> f32 {
    if (abs(t) < 1.0e-3) {
        return abs(t * (1.0 + t * (0.5 + t / 6.0)));
    }
    return abs(exp(min(t, 80.0)) - 1.0);
}

@compute @workgroup_size(256)
fn marginal_error(@builtin(local_invocation_id) lid: vec3<u32>) {
    let inv_eps = 1.0 / params.eps;
    var acc = 0.0;
    for (var j = lid.x; j < params.n; j = j + WG) {
        let o = old_pot[j];
        let v = new_pot[j];
        acc = acc + exp(log_w[j]) * abs_expm1((o - v) * inv_eps);
        if (params.mode == 1u) {
            saved[j] = o;
            old_pot[j] = 0.5 * (o + v);
        }
    }
    part[lid.x] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid.x < s) {
            part[lid.x] = part[lid.x] + part[lid.x + s];
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        err_out[params.slot] = part[0];
    }
}
