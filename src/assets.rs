//! Assets bundled into the binary and the wasm: the scenarios the app offers (`assets/scenarios/`) and the
//! image the `image` target reads by default (`assets/target.png`).

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
