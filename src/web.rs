//! The web entry point: `web/main.js` calls [`start`] after loading the wasm module. The app's own
//! dealings with the page (start-up settings, data attributes) live in `app/host.rs`.

use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;

/// Starts the app on the canvas with id `canvas_id`. Rejects with a message when the canvas is missing or
/// graphics cannot be initialized; the page shows that message in plain words.
#[wasm_bindgen]
pub async fn start(canvas_id: String) -> Result<(), JsValue> {
    // Logging is best effort: a second call (e.g. on a re-start) finds the logger already set.
    let _ = eframe::WebLogger::init(log::LevelFilter::Warn);
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let canvas = document
        .get_element_by_id(&canvas_id)
        .ok_or_else(|| JsValue::from_str(&format!("no element with id {canvas_id}")))?
        .dyn_into::<web_sys::HtmlCanvasElement>()
        .map_err(|_| JsValue::from_str(&format!("element {canvas_id} is not a canvas")))?;
    let runner = eframe::WebRunner::new();
    runner
        .start(
            canvas,
            eframe::WebOptions::default(),
            Box::new(|cc| Ok(Box::new(crate::app::DivlabApp::new(cc)))),
        )
        .await
}
