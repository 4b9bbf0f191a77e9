// Density heatmap straight from a log-density grid on the GPU (no read-back):
// - max_partials / max_final: the largest finite log density (tree reduction, then across groups)
// - colorize: colour of every cell into an rgba8unorm storage texture, top row = y_max
//   (the grid's row 0 is y_min). Linear scale: t = exp(lp - max); log scale over `decades`
//   decades: t = max(0, (lp - floor) / (max - floor)), floor = max - decades ln 10.
//   Colours come from a 256-entry table sampled from the colorous gradient the CPU path
//   uses (viridis, cividis, ...; set by the app), linearly interpolated.

struct Params {
    nx: u32,
    ny: u32,
    n_partials: u32,
    log_scale: u32,
    decades: f32,
    _p0: f32,
    _p1: f32,
    _p2: f32,
};

const WG: u32 = 256u;
const NEG: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> log_d: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

var<workgroup> red: array<f32, 256>;

fn finite_or_neg(v: f32) -> f32 {
    // NaN and +-inf (and the -1e30 floor) do not count as finite maxima
    if (v == v && abs(v) < 1.0e30) {
        return v;
    }
    return NEG;
}

@compute @workgroup_size(256)
fn max_partials(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    var v = NEG;
    if (gid.x < params.nx * params.ny) {
        v = finite_or_neg(log_d[gid.x]);
    }
    red[lid.x] = v;
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        workgroupBarrier();
        if (lid.x < s) {
            red[lid.x] = max(red[lid.x], red[lid.x + s]);
        }
    }
    if (lid.x == 0u) {
        partials[wid.x] = red[0];
    }
}

@group(0) @binding(0) var<uniform> fparams: Params;
@group(0) @binding(1) var<storage, read> parts_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> max_out: array<f32>;

@compute @workgroup_size(256)
fn max_final(@builtin(local_invocation_id) lid: vec3<u32>) {
    var v = NEG;
    for (var w = lid.x; w < fparams.n_partials; w = w + WG) {
        v = max(v, parts_in[w]);
    }
    red[lid.x] = v;
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        workgroupBarrier();
        if (lid.x < s) {
            red[lid.x] = max(red[lid.x], red[lid.x + s]);
        }
    }
    if (lid.x == 0u) {
        max_out[0] = red[0];
    }
}

@group(0) @binding(0) var<uniform> cparams: Params;
@group(0) @binding(1) var<storage, read> grid_in: array<f32>;
@group(0) @binding(2) var<storage, read> grid_max: array<f32>;
@group(0) @binding(3) var<storage, read> lut: array<vec4<f32>>;
@group(0) @binding(4) var out_tex: texture_storage_2d<rgba8unorm, write>;

@compute @workgroup_size(16, 16)
fn colorize(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    let row = gid.y;
    if (col >= cparams.nx || row >= cparams.ny) {
        return;
    }
    let mx = grid_max[0];
    let lp = finite_or_neg(grid_in[row * cparams.nx + col]);
    var t = 0.0;
    if (mx > NEG && lp > NEG) {
        if (cparams.log_scale == 1u) {
            let fl = mx - cparams.decades * 2.302585092994046;
            t = max(0.0, (lp - fl) / (mx - fl));
        } else {
            t = exp(lp - mx);
        }
    }
    let u = clamp(t, 0.0, 1.0) * 255.0;
    let i0 = min(u32(floor(u)), 254u);
    let fr = u - f32(i0);
    let c = mix(lut[i0], lut[i0 + 1u], fr);
    textureStore(out_tex, vec2<i32>(i32(col), i32(cparams.ny - 1u - row)), vec4<f32>(c.rgb, 1.0));
}
