//! What the app needs from its host, and the only `cfg(target_arch = "wasm32")` code in `app/`: start-up
//! settings (the page address on the web, environment variables natively), the page's `data-divlab-*`
//! attributes that the page glue and the browser tests read, and the contents of dropped files (read at once
//! natively, asynchronously in the browser).

/// A start-up setting: `?name=value` in the page address on the web, the `DIVLAB_NAME` environment
/// variable natively (`scenario`, `run`, `backend`).
pub fn startup_param(name: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        query_param(name)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::env::var(format!("DIVLAB_{}", name.to_uppercase())).ok()
    }
}

/// The link the app was opened with: the page address's `#…` on the web (with the embedding keys of the
/// query string, `?ui=min&…`, before it), the `DIVLAB_LINK` environment variable natively.
pub fn startup_link() -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        let hash = current_link().unwrap_or_default();
        let embed: Vec<String> = ["ui", "hide", "show", "autoplay"]
            .iter()
            .filter_map(|k| query_param(k).map(|v| format!("{k}={v}")))
            .collect();
        match (hash.is_empty(), embed.is_empty()) {
            (true, true) => None,
            (true, false) => Some(format!("v=1&{}", embed.join("&"))),
            (false, true) => Some(hash),
            (false, false) => Some(format!("{hash}&{}", embed.join("&"))),
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::env::var("DIVLAB_LINK")
            .ok()
            .filter(|l| !l.trim().is_empty())
    }
}

/// The page address's `#…` now, without the `#` (the web only: the user may edit it).
pub fn current_link() -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        let hash = web_sys::window()?.location().hash().ok()?;
        Some(hash.trim_start_matches('#').to_owned()).filter(|h| !h.is_empty())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

/// Puts `link` after the `#` of the page address without adding a history entry (the web only).
pub fn write_link(link: &str) {
    #[cfg(target_arch = "wasm32")]
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        // Failing to update the address leaves the previous link there; the app's state is unaffected.
        let _ = history.replace_state_with_url(
            &wasm_bindgen::JsValue::NULL,
            "",
            Some(&format!("#{link}")),
        );
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = link;
}

/// The address a copied link starts with: the page without its `#…` on the web; natively nothing (the
/// link is `#v=1&…`, to paste after the web app's address or to open with `divlab open`).
pub fn link_base() -> String {
    #[cfg(target_arch = "wasm32")]
    {
        web_sys::window()
            .and_then(|w| w.location().href().ok())
            .map(|href| href.split('#').next().unwrap_or_default().to_owned())
            .unwrap_or_default()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        String::new()
    }
}

/// Sets `data-<name>` on the page's body (the web only; natively nothing is published).
pub fn publish(name: &str, value: &str) {
    #[cfg(target_arch = "wasm32")]
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        // Failing to set a data attribute only affects tests and embedding pages, never the user.
        let _ = body.set_attribute(&format!("data-{name}"), value);
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (name, value);
}

/// The value of `name` in the page address's query string (`?name=value`), if any.
#[cfg(target_arch = "wasm32")]
fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    search
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The contents of files dropped onto the window. Natively a dropped file is read at once; in the browser it
/// is read asynchronously, and arrives on a later frame (the read asks for a repaint).
#[derive(Debug, Default)]
pub struct DropReader {
    #[cfg(target_arch = "wasm32")]
    arrived: std::sync::Arc<std::sync::Mutex<Option<DroppedContents>>>,
}

/// A dropped file's name and its bytes, or why they could not be read.
pub type DroppedContents = (String, Result<Vec<u8>, String>);

impl DropReader {
    /// The first file dropped this frame (natively), or one whose contents have arrived (in the browser).
    pub fn take(&mut self, ctx: &egui::Context) -> Option<DroppedContents> {
        let dropped = ctx.input(|i| i.raw.dropped_files.first().cloned());
        let named = dropped.map(|file| {
            let name = file
                .path()
                .file_name()
                .map_or_else(|| "image".to_owned(), |n| n.to_string_lossy().into_owned());
            (name, file)
        });
        #[cfg(not(target_arch = "wasm32"))]
        {
            named.map(|(name, file)| (name, file.bytes()))
        }
        #[cfg(target_arch = "wasm32")]
        {
            if let Some((name, file)) = named {
                let slot = std::sync::Arc::clone(&self.arrived);
                let ctx = ctx.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let bytes = file.bytes_async().await;
                    if let Ok(mut s) = slot.lock() {
                        *s = Some((name, bytes));
                    }
                    ctx.request_repaint();
                });
            }
            self.arrived.lock().ok().and_then(|mut s| s.take())
        }
    }
}
