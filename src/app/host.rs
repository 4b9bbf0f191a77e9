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

/// Results that arrive on a later frame from another thread or a browser callback (a file picked or
/// saved, a screenshot): posted there, taken by the app's next frame.
#[derive(Debug)]
pub struct Mailbox<T>(std::sync::Arc<std::sync::Mutex<Vec<T>>>);

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Self(std::sync::Arc::default())
    }
}

impl<T> Clone for Mailbox<T> {
    fn clone(&self) -> Self {
        Self(std::sync::Arc::clone(&self.0))
    }
}

impl<T> Mailbox<T> {
    pub fn post(&self, item: T) {
        if let Ok(mut items) = self.0.lock() {
            items.push(item);
        }
    }

    /// Everything posted since the last call, in order.
    pub fn take_all(&self) -> Vec<T> {
        self.0
            .lock()
            .map(|mut items| std::mem::take(&mut *items))
            .unwrap_or_default()
    }
}

/// Saves `bytes` as a file named `name`: in the browser a download; natively into `folder` when one is
/// given (no dialog), otherwise where the user picks in the desktop's save dialog (the xdg portal or
/// zenity on Linux), on another thread so that frames go on. What happened (the path, or why nothing was
/// written) arrives in `done`, `Ok` for a status line and `Err` for a failure.
pub fn save_file(
    ctx: &egui::Context,
    name: String,
    mime: &'static str,
    bytes: Vec<u8>,
    folder: Option<&std::path::Path>,
    done: Mailbox<Result<String, String>>,
) {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = (ctx, folder);
        let len = bytes.len();
        done.post(
            download(&name, mime, &bytes)
                .map(|()| {
                    publish("divlab-download", &format!("{name} {len}"));
                    format!("Downloaded {name} ({len} bytes)")
                })
                .map_err(|e| format!("Could not download {name}: {e}")),
        );
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = mime;
        let write = |path: std::path::PathBuf, bytes: &[u8]| {
            std::fs::write(&path, bytes)
                .map(|()| format!("Saved {} ({} bytes)", path.display(), bytes.len()))
                .map_err(|e| format!("Could not write {}: {e}", path.display()))
        };
        if let Some(folder) = folder {
            done.post(write(folder.join(&name), &bytes));
            return;
        }
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let picked = pollster::block_on(
                rfd::AsyncFileDialog::new()
                    .set_title("Save")
                    .set_file_name(&name)
                    .save_file(),
            );
            done.post(match picked {
                Some(handle) => write(handle.path().to_path_buf(), &bytes),
                None => Ok(format!(
                    "{name} was not saved: the dialog was closed, or this desktop has no file dialog \
                     (then set DIVLAB_SAVE_DIR to a folder to save into)"
                )),
            });
            ctx.request_repaint();
        });
    }
}

/// Asks the user for a file whose name ends in one of `extensions` (without dots): in the browser a file
/// picker, natively the desktop's open dialog. Its name and contents arrive in `arrived`, on a later frame.
pub fn open_file(
    ctx: &egui::Context,
    extensions: &'static [&'static str],
    arrived: Mailbox<DroppedContents>,
) {
    #[cfg(target_arch = "wasm32")]
    if let Err(e) = pick(ctx, extensions, arrived.clone()) {
        arrived.post(("file picker".to_owned(), Err(e)));
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let picked = pollster::block_on(
                rfd::AsyncFileDialog::new()
                    .set_title("Open")
                    .add_filter("divlab files", extensions)
                    .pick_file(),
            );
            if let Some(handle) = picked {
                let path = handle.path();
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
                arrived.post((name, bytes));
                ctx.request_repaint();
            }
        });
    }
}

/// A download of `bytes` named `name`: a Blob, an object URL and a click on a hidden anchor (the URL is
/// revoked a minute later, when the browser has long taken the file).
#[cfg(target_arch = "wasm32")]
fn download(name: &str, mime: &str, bytes: &[u8]) -> Result<(), String> {
    use wasm_bindgen::JsCast as _;
    let js = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let parts = js_sys::Array::new();
    parts.push(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob =
        web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(js)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js)?;
    let anchor: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(js)?
        .dyn_into()
        .map_err(|_| "not an anchor".to_owned())?;
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.click();
    let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    window
        .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000)
        .map_err(js)?;
    Ok(())
}

/// A file picker: an `<input type=file>` made here and clicked (egui runs the frame of a click inside the
/// browser's event handler, so the browser lets it open); the chosen file is read asynchronously.
#[cfg(target_arch = "wasm32")]
fn pick(
    ctx: &egui::Context,
    extensions: &[&str],
    arrived: Mailbox<DroppedContents>,
) -> Result<(), String> {
    use wasm_bindgen::JsCast as _;
    let js = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let input: web_sys::HtmlInputElement = document
        .create_element("input")
        .map_err(js)?
        .dyn_into()
        .map_err(|_| "not an input".to_owned())?;
    input.set_type("file");
    let accept: Vec<String> = extensions.iter().map(|e| format!(".{e}")).collect();
    input.set_accept(&accept.join(","));
    let chosen = input.clone();
    let ctx = ctx.clone();
    let on_change = wasm_bindgen::closure::Closure::once_into_js(move || {
        let Some(file) = chosen.files().and_then(|list| list.get(0)) else {
            return;
        };
        let name = file.name();
        wasm_bindgen_futures::spawn_local(async move {
            let bytes = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
                .await
                .map(|buffer| js_sys::Uint8Array::new(&buffer).to_vec())
                .map_err(|e| format!("cannot read it: {e:?}"));
            arrived.post((name, bytes));
            ctx.request_repaint();
        });
    });
    input.set_onchange(Some(on_change.unchecked_ref()));
    input.click();
    Ok(())
}
