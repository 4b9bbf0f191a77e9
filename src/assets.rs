//! Assets bundled into the binary and the wasm: the scenarios the app offers (`assets/scenarios/`), the
//! claim presets (`assets/presets/`, links over those scenarios) and the image the `image` target reads by
//! default (`assets/target.png`).

use crate::core::claim::ClaimPreset;
use crate::core::scenario::Scenario;
use crate::core::target::GrayImage;

/// The asset name of the bundled image (the `image` target's default `asset`).
pub const BUNDLED_IMAGE_ASSET: &str = "assets/target.png";

const BUNDLED_IMAGE_PNG: &[u8] = include_bytes!("../assets/target.png");

/// The bytes of a bundled input asset by its asset name (the `image` target's default image), if bundled.
pub fn bundled_bytes(name: &str) -> Option<&'static [u8]> {
    (name == BUNDLED_IMAGE_ASSET).then_some(BUNDLED_IMAGE_PNG)
}

/// Decodes the bundled PNG into the core's grayscale image (luminance, 0 = no mass).
pub fn bundled_gray_image() -> Result<GrayImage, String> {
    decode_gray(BUNDLED_IMAGE_PNG).map_err(|e| format!("bundled target image: {e}"))
}

/// Decodes an image (PNG, the formats the `image` crate is built with) to luminance in [0, 1].
pub fn decode_gray(bytes: &[u8]) -> Result<GrayImage, String> {
    let img = image::load_from_memory(bytes)
        .map_err(|e| format!("cannot decode the image: {e}"))?
        .to_luma32f();
    Ok(GrayImage {
        width: img.width() as usize,
        height: img.height() as usize,
        pixels: img.into_raw(),
    })
}

/// (file name, RON text) of every bundled scenario, in the order the app lists them.
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "mixture_mmd_flow",
        include_str!("../assets/scenarios/mixture_mmd_flow.ron"),
    ),
    (
        "two_modes_forward_kl",
        include_str!("../assets/scenarios/two_modes_forward_kl.ron"),
    ),
    (
        "two_modes_reverse_kl",
        include_str!("../assets/scenarios/two_modes_reverse_kl.ron"),
    ),
    (
        "two_modes_jensen_shannon",
        include_str!("../assets/scenarios/two_modes_jensen_shannon.ron"),
    ),
    (
        "ring8_mmd_flow",
        include_str!("../assets/scenarios/ring8_mmd_flow.ron"),
    ),
    (
        "moons_sinkhorn_flow",
        include_str!("../assets/scenarios/moons_sinkhorn_flow.ron"),
    ),
    (
        "spiral_sliced_riesz",
        include_str!("../assets/scenarios/spiral_sliced_riesz.ron"),
    ),
    (
        "banana_svgd",
        include_str!("../assets/scenarios/banana_svgd.ron"),
    ),
    (
        "funnel_langevin",
        include_str!("../assets/scenarios/funnel_langevin.ron"),
    ),
    (
        "dirichlet_mirrored_svgd",
        include_str!("../assets/scenarios/dirichlet_mirrored_svgd.ron"),
    ),
    (
        "mixture_em",
        include_str!("../assets/scenarios/mixture_em.ron"),
    ),
];

/// Parses every bundled scenario; a broken one is reported by name (and tested in CI, so none ships broken).
pub fn bundled_scenarios() -> Vec<(String, Result<Scenario, String>)> {
    BUNDLED
        .iter()
        .map(|(name, text)| {
            (
                (*name).to_owned(),
                Scenario::parse(text).map_err(|e| format!("{name}.ron: {e}")),
            )
        })
        .collect()
}

/// (file name, RON text) of every bundled claim preset (`assets/presets/`), in the order the app lists them.
/// Each is a link over the bundled scenarios above (format: `docs/presets.md`).
pub const BUNDLED_PRESETS: &[(&str, &str)] = &[
    (
        "forward_vs_reverse_kl",
        include_str!("../assets/presets/forward_vs_reverse_kl.ron"),
    ),
    (
        "js_two_starts",
        include_str!("../assets/presets/js_two_starts.ron"),
    ),
    (
        "alpha_sweep",
        include_str!("../assets/presets/alpha_sweep.ron"),
    ),
    (
        "ring8_mode_coverage",
        include_str!("../assets/presets/ring8_mode_coverage.ron"),
    ),
    (
        "em_vs_gradient",
        include_str!("../assets/presets/em_vs_gradient.ron"),
    ),
    (
        "svgd_vs_langevin",
        include_str!("../assets/presets/svgd_vs_langevin.ron"),
    ),
    (
        "forward_chi2_vs_kl",
        include_str!("../assets/presets/forward_chi2_vs_kl.ron"),
    ),
    (
        "optimizer_race",
        include_str!("../assets/presets/optimizer_race.ron"),
    ),
    (
        "laprop_vs_adam",
        include_str!("../assets/presets/laprop_vs_adam.ron"),
    ),
    (
        "cauchy_schwarz_closed_form",
        include_str!("../assets/presets/cauchy_schwarz_closed_form.ron"),
    ),
    (
        "js_vs_sinkhorn_disjoint",
        include_str!("../assets/presets/js_vs_sinkhorn_disjoint.ron"),
    ),
    (
        "sinkhorn_debiasing",
        include_str!("../assets/presets/sinkhorn_debiasing.ron"),
    ),
    (
        "small_epsilon_scaling",
        include_str!("../assets/presets/small_epsilon_scaling.ron"),
    ),
    (
        "full_vs_sliced_riesz",
        include_str!("../assets/presets/full_vs_sliced_riesz.ron"),
    ),
    (
        "mmd_noise_injection",
        include_str!("../assets/presets/mmd_noise_injection.ron"),
    ),
    (
        "knn_kl_from_samples",
        include_str!("../assets/presets/knn_kl_from_samples.ron"),
    ),
    (
        "gaussian_vi_jko",
        include_str!("../assets/presets/gaussian_vi_jko.ron"),
    ),
    (
        "d_adapt_vs_adam",
        include_str!("../assets/presets/d_adapt_vs_adam.ron"),
    ),
    (
        "newton_sinkhorn",
        include_str!("../assets/presets/newton_sinkhorn.ron"),
    ),
    (
        "orlicz_excess_mass",
        include_str!("../assets/presets/orlicz_excess_mass.ron"),
    ),
    (
        "mirrored_svgd_simplex",
        include_str!("../assets/presets/mirrored_svgd_simplex.ron"),
    ),
];

/// A bundled claim preset as the app lists it: its file name, and its texts and link.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetEntry {
    /// The file name without `.ron` (`forward_vs_reverse_kl`).
    pub id: &'static str,
    pub name: String,
    /// One sentence.
    pub claim: String,
    /// Exact titles of the papers the claim comes from.
    pub papers: Vec<String>,
    /// What to watch while it runs.
    pub look_at: String,
    /// The link that opens its panels (`v=1&preset=…`, for the app's `Command::OpenLink`).
    pub link: String,
    /// Its race, if it has one: the threshold each panel's objective is raced to.
    pub race: Option<crate::core::claim::Race>,
}

/// Every bundled claim preset, parsed; a broken one is reported by name (and tested in CI, so none ships
/// broken).
pub fn claim_presets() -> Vec<Result<PresetEntry, String>> {
    BUNDLED_PRESETS
        .iter()
        .map(|(id, text)| {
            ClaimPreset::parse(text)
                .map(|p| PresetEntry {
                    id,
                    link: p.link(),
                    name: p.name,
                    claim: p.claim,
                    papers: p.papers,
                    look_at: p.look_at,
                    race: p.race,
                })
                .map_err(|e| format!("{id}.ron: {e}"))
        })
        .collect()
}
