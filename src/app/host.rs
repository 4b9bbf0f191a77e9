//! What the app needs from its host, and the only `cfg(target_arch = "wasm32")` code in `app/`: start-up
//! settings (the page address on the web, environment variables natively) and the page's `data-divlab-*`
//! attributes that the page glue and the browser tests read.

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
