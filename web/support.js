// Feature detection and plain-language failure messages, kept separate so the e2e tests can exercise them.

/** What graphics the browser offers: a WebGPU adapter, a WebGL2 context, both or neither. */
export async function detectGraphics() {
  let webgpu = false;
  if (typeof navigator !== 'undefined' && navigator.gpu) {
    try {
      const adapter = await navigator.gpu.requestAdapter();
      webgpu = adapter !== null;
    } catch (_) {
      webgpu = false;
    }
  }
  let webgl2 = false;
  try {
    const canvas = document.createElement('canvas');
    webgl2 = canvas.getContext('webgl2') !== null;
  } catch (_) {
    webgl2 = false;
  }
  return { webgpu, webgl2 };
}

/** A message a teacher in front of a class can act on. */
export function explainFailure(kind, err) {
  const detail = err ? ` (${err && err.message ? err.message : String(err)})` : '';
  switch (kind) {
    case 'no-graphics':
      return 'divlab cannot start: this browser offers neither WebGPU nor WebGL2, and divlab needs one of them ' +
        'to draw. Try a current Chrome, Edge, Firefox or Safari, and check that hardware acceleration is enabled.';
    case 'wasm':
      return 'divlab could not load its WebAssembly module' + detail + '. Reload the page; if it keeps failing, ' +
        'this browser may block WebAssembly, or the site is missing its pkg/ files.';
    default:
      return 'divlab failed to start' + detail + '. Reload the page, or try another browser.';
  }
}
