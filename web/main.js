// divlab browser glue: checks what the browser offers, loads the wasm module, starts the app, and says in plain
// words what went wrong instead of leaving a blank page.
import { detectGraphics, explainFailure } from './support.js';

const statusBox = document.getElementById('status');
const statusText = document.getElementById('status_text');

function showError(message) {
  statusBox.classList.remove('hidden');
  statusBox.classList.add('error');
  statusText.textContent = message;
  document.body.dataset.divlabState = 'error';
  console.warn('divlab: ' + message);
}

async function main() {
  document.body.dataset.divlabState = 'loading';
  const graphics = await detectGraphics();
  document.body.dataset.divlabGraphics = graphics.webgpu ? 'webgpu' : (graphics.webgl2 ? 'webgl2' : 'none');
  if (!graphics.webgpu && !graphics.webgl2) {
    showError(explainFailure('no-graphics'));
    return;
  }
  let wasm;
  try {
    wasm = await import('../pkg/divlab.js');
    await wasm.default();
  } catch (err) {
    showError(explainFailure('wasm', err));
    return;
  }
  try {
    await wasm.start('divlab_canvas');
  } catch (err) {
    showError(explainFailure('start', err));
    return;
  }
  statusBox.classList.add('hidden');
  document.body.dataset.divlabState = 'running';
}

main();
