// Real-browser tests of the built site (dist/): Playwright driving Debian's Chromium with a software WebGPU
// adapter (SwiftShader), then with WebGPU removed (WebGL2 fallback), with no graphics at all, and with the wasm
// missing. Screenshots land in web/test-results/ so a person can look at them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const shots = path.join(here, 'test-results');
fs.mkdirSync(shots, { recursive: true });

const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader',
  '--use-angle=swiftshader', '--use-vulkan=swiftshader', '--enable-features=Vulkan,CDPScreenshotNewSurface'];

let server, browser, base;

before(async () => {
  assert.ok(fs.existsSync(path.join(dist, 'index.html')), 'dist/ missing: run scripts/build_web.sh first');
  server = await serve(dist, 0);
  base = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
});

after(async () => {
  await browser?.close();
  server?.close();
});

/**
 * Records on `page` every console error, page error, HTTP error, request to another origin than the page's
 * (data: and blob: URLs are made by the page itself) and Content-Security-Policy violation; returns the list.
 */
async function watch(page) {
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('response', (res) => { if (res.status() >= 400) errors.push(`http ${res.status()}: ${res.url()}`); });
  page.on('request', (req) => {
    const url = req.url();
    if (!(url.startsWith(base) || url.startsWith('data:') || url.startsWith('blob:'))) {
      errors.push(`request outside the page's origin: ${url}`);
    }
  });
  await page.exposeFunction('divlabCspViolation', (v) => errors.push(`csp violation: ${v}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.divlabCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  return errors;
}

/** Opens the page and records every error [`watch`] sees. */
async function open(initScript) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  const errors = await watch(page);
  if (initScript) await page.addInitScript(initScript);
  return { context, page, errors };
}

// Debian's ImageMagick (installed by scripts/setup.sh); some machines put a stand-in `convert` earlier on PATH.
const CONVERT = fs.existsSync('/usr/bin/convert') ? '/usr/bin/convert' : 'convert';

/** Standard deviation (0..1) of the pixels in a region of a PNG, by ImageMagick. */
function regionStdDev(png, { x, y, w, h }) {
  const out = execFileSync(CONVERT, [png, '-crop', `${w}x${h}+${x}+${y}`, '+repage', '-colorspace', 'gray',
    '-format', '%[fx:standard_deviation]', 'info:']).toString().trim();
  return Number(out);
}

/** Waits until the app runs and has drawn a few frames, then checks the plot area is not blank. */
async function expectAppDrawn(page, errors, name) {
  await page.goto(base);
  await page.waitForFunction(() => document.body.dataset.divlabState === 'running' ||
    document.body.dataset.divlabState === 'error', null, { timeout: 120_000 });
  const state = await page.evaluate(() => document.body.dataset.divlabState);
  const statusText = await page.textContent('#status_text');
  assert.equal(state, 'running', `app did not start: ${statusText}`);
  // The app marks the body once its first heatmap is on screen.
  await page.waitForFunction(() => document.body.dataset.divlabHeatmap === 'drawn', null, { timeout: 120_000 });
  await page.waitForTimeout(1500);
  const file = path.join(shots, `${name}.png`);
  await page.screenshot({ path: file });
  // The plot fills the right part of the window; a blank canvas has (near) zero variance there.
  const sd = regionStdDev(file, { x: 420, y: 120, w: 700, h: 560 });
  console.log(`${name}: plot-area pixel std-dev ${sd.toFixed(4)}; screenshot ${file}`);
  assert.ok(sd > 0.05, `plot area looks blank (std-dev ${sd})`);
  assert.deepEqual(errors, [], 'console or page errors');
}

test('loads with WebGPU and draws the heatmap', async () => {
  const { context, page, errors } = await open();
  await expectAppDrawn(page, errors, 'web-webgpu');
  const graphics = await page.evaluate(() => document.body.dataset.divlabGraphics);
  assert.equal(graphics, 'webgpu');
  const renderer = await page.evaluate(() => document.body.dataset.divlabRenderer);
  console.log(`web-webgpu: renderer ${renderer}`);
  assert.match(renderer, /webgpu/i);
  // WebGPU has compute: the app uses the GPU backend.
  assert.equal(await page.evaluate(() => document.body.dataset.divlabCompute), 'gpu');
  await context.close();
});

test('the Content-Security-Policy is in force: another origin and inline script are refused, and reported', async () => {
  const { context, page, errors } = await open();
  await expectAppDrawn(page, errors, 'web-csp');
  const policy = await page.evaluate(() =>
    document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content'));
  console.log(`csp: ${policy}`);
  assert.match(policy, /default-src 'self'/);
  // What the policy forbids is refused by the browser and reaches the test's error list.
  const fetched = await page.evaluate(() => fetch('http://example.invalid/x').then(() => 'fetched', () => 'refused'));
  const ran = await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.divlabInlineRan = true';
    document.body.appendChild(s);
    return new Promise((resolve) => setTimeout(() => resolve(window.divlabInlineRan === true), 200));
  });
  await page.waitForTimeout(300);
  console.log(`csp: fetch to another origin ${fetched}; inline script ran: ${ran}; recorded ${JSON.stringify(errors)}`);
  assert.equal(fetched, 'refused');
  assert.equal(ran, false);
  assert.ok(errors.some((e) => e.startsWith('csp violation: connect-src')), `no connect-src violation in ${errors}`);
  assert.ok(errors.some((e) => e.startsWith('csp violation: script-src')), `no script-src violation in ${errors}`);
  await context.close();
});

test('falls back to WebGL2 when WebGPU is missing', async () => {
  const { context, page, errors } = await open(() => { delete Navigator.prototype.gpu; });
  await expectAppDrawn(page, errors, 'web-webgl2');
  const graphics = await page.evaluate(() => document.body.dataset.divlabGraphics);
  assert.equal(graphics, 'webgl2');
  const renderer = await page.evaluate(() => document.body.dataset.divlabRenderer);
  console.log(`web-webgl2: renderer ${renderer}`);
  assert.match(renderer, /gl/i);
  // WebGL2 has no compute shaders: the app computes on the CPU core.
  assert.equal(await page.evaluate(() => document.body.dataset.divlabCompute), 'cpu');
  await context.close();
});

/** Runs `steps` steps of a bundled scenario from the page address and returns the objective the app reports. */
async function runScenario(initScript, query, name) {
  const { context, page, errors } = await open(initScript);
  await page.goto(`${base}?${query}`);
  // SwiftShader renders 3–4 frames a second and the GPU flow never blocks a frame, so a Sinkhorn step (a few
  // frames per batch of 5 iterations) takes seconds here; it says nothing about real GPUs.
  await page.waitForFunction(() => document.body.dataset.divlabSteps !== undefined, null, { timeout: 300_000 });
  const steps = Number(await page.evaluate(() => document.body.dataset.divlabSteps));
  const objective = Number(await page.evaluate(() => document.body.dataset.divlabObjective));
  const objectives = (await page.evaluate(() => document.body.dataset.divlabObjectives)).split(',').map(Number);
  const compute = await page.evaluate(() => document.body.dataset.divlabCompute);
  const flow = await page.evaluate(() => document.body.dataset.divlabFlow);
  const message = await page.evaluate(() => document.body.dataset.divlabMessage);
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
  await context.close();
  assert.deepEqual(errors, [], `${name}: console or page errors`);
  assert.equal(message, undefined, `${name}: the run stopped: ${message}`);
  return { steps, objective, objectives, compute, flow };
}

test('a Sinkhorn flow gives the same objective with and without WebGPU', async () => {
  const query = 'scenario=moons_sinkhorn_flow&run=3';
  const gpu = await runScenario(undefined, query, 'web-sinkhorn-webgpu');
  const cpu = await runScenario(() => { delete Navigator.prototype.gpu; }, query, 'web-sinkhorn-webgl2');
  console.log(`sinkhorn flow, 3 steps: ${JSON.stringify(gpu)} vs ${JSON.stringify(cpu)}`);
  assert.equal(gpu.steps, 3);
  assert.equal(cpu.steps, 3);
  assert.equal(gpu.compute, 'gpu');
  assert.equal(cpu.compute, 'cpu');
  // The flow itself ran on WebGPU compute in one page and on the CPU core in the other.
  assert.equal(gpu.flow, 'gpu');
  assert.equal(cpu.flow, 'cpu');
  assert.equal(gpu.objectives.length, 3);
  assert.ok(gpu.objectives.every((v) => Number.isFinite(v) && v > 0), `objectives ${gpu.objectives}`);
  const rel = gpu.objectives.map((g, i) => Math.abs(g - cpu.objectives[i]) / Math.abs(cpu.objectives[i]));
  console.log(`sinkhorn flow S_ε per step, relative difference GPU vs CPU: ${rel.map((r) => r.toExponential(2))}`);
  // Step 1 reports S_ε at the common starting particles: the kernels' tolerance (1e-3) applies. Later steps
  // start from particles moved by slightly different potentials (both solvers stop at the scenario's marginal
  // tolerance 1e-3, the GPU checking it every 5 iterations), so they agree to the stopping rule's accuracy.
  assert.ok(rel[0] < 1e-3, `step 1: GPU ${gpu.objectives[0]} vs CPU ${cpu.objectives[0]}`);
  assert.ok(rel.every((r) => r < 1e-2), `GPU ${gpu.objectives} vs CPU ${cpu.objectives}`);
});

test('two panels step in lockstep in the browser', async () => {
  const { context, page, errors } = await open();
  await page.goto(`${base}?scenario=two_modes_reverse_kl&layout=2&run=5`);
  await page.waitForFunction(() => document.body.dataset.divlabSteps !== undefined, null, { timeout: 300_000 });
  const panelSteps = await page.evaluate(() => document.body.dataset.divlabPanelSteps);
  const objectives = (await page.evaluate(() => document.body.dataset.divlabPanelObjectives)).split(',').map(Number);
  const png = path.join(shots, 'web-two-panels.png');
  await page.screenshot({ path: png });
  await context.close();
  assert.deepEqual(errors, [], 'console or page errors');
  assert.equal(panelSteps, '5,5');
  assert.equal(objectives.length, 2);
  assert.ok(objectives.every((v) => Number.isFinite(v) && v > 0), `objectives ${objectives}`);
  // Same scenario and seed in both panels: the same fit, bit for bit.
  assert.equal(objectives[0], objectives[1]);
  // Both panels are drawn: neither half of the canvas right of the side panel is blank.
  for (const [name, x] of [['left', 300], ['right', 760]]) {
    const sd = regionStdDev(png, { x, y: 120, w: 380, h: 400 });
    console.log(`two panels, ${name} panel: std-dev ${sd.toFixed(3)}`);
    assert.ok(sd > 0.03, `${name} panel looks blank (${sd})`);
  }
});

/** Mean (0..1) of the grey-level difference between two PNGs in a region, by ImageMagick. */
function regionDiff(a, b, { x, y, w, h }) {
  const out = execFileSync(CONVERT, [a, b, '-compose', 'difference', '-composite', '-crop', `${w}x${h}+${x}+${y}`,
    '+repage', '-colorspace', 'gray', '-format', '%[fx:mean]', 'info:']).toString().trim();
  return Number(out);
}

// Where panel B's divergence picker and its "forward KL(p||q)" entry are in a 1200×800 window with two
// panels: egui lays the canvas out as natively, and tests/ui_webpos.rs checks that these are still the
// positions of those widgets in the native layout (and prints the new ones when they move).
const B_PICKER = { x: 822, y: 44 };
const B_FORWARD_KL = { x: 858, y: 71 };

test('in two panels, a new divergence in one panel changes that fit, and both canvases move', async () => {
  const { context, page, errors } = await open();
  await page.goto(`${base}?scenario=two_modes_reverse_kl&layout=2`);
  await page.waitForFunction(() => document.body.dataset.divlabHeatmap === 'drawn', null, { timeout: 120_000 });
  await page.waitForTimeout(1000);
  const before = path.join(shots, 'web-divergence-before.png');
  await page.screenshot({ path: before });
  await page.mouse.click(B_PICKER.x, B_PICKER.y);
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(shots, 'web-divergence-menu.png') });
  await page.mouse.click(B_FORWARD_KL.x, B_FORWARD_KL.y);
  await page.waitForTimeout(500);
  // Play for three seconds, pause, then one more step (a finished step publishes the panels' state).
  await page.keyboard.press('Space');
  await page.waitForTimeout(1500);
  await page.screenshot({ path: path.join(shots, 'web-divergence-running.png') });
  await page.waitForTimeout(1500);
  await page.keyboard.press('Space');
  await page.waitForTimeout(300);
  await page.keyboard.press('s');
  await page.waitForFunction(() => document.body.dataset.divlabPanelSteps !== undefined, null, { timeout: 120_000 });
  await page.waitForTimeout(500);
  const after = path.join(shots, 'web-divergence-after.png');
  await page.screenshot({ path: after });
  const steps = (await page.evaluate(() => document.body.dataset.divlabPanelSteps)).split(',').map(Number);
  const objectives = (await page.evaluate(() => document.body.dataset.divlabPanelObjectives)).split(',').map(Number);
  await context.close();
  console.log(`divergence changed in B: steps ${steps}, objectives ${objectives}`);
  assert.deepEqual(errors, [], 'console or page errors');
  assert.equal(steps.length, 2);
  assert.equal(steps[0], steps[1], `lockstep: ${steps}`);
  assert.ok(steps[0] > 1, `the panels played: ${steps}`);
  assert.ok(objectives.every(Number.isFinite), `objectives ${objectives}`);
  // A fits reverse KL, B now forward KL: the same start, different objectives.
  assert.notEqual(objectives[0], objectives[1], `both panels report ${objectives[0]}`);
  for (const [name, x] of [['A', 300], ['B', 760]]) {
    const d = regionDiff(before, after, { x, y: 80, w: 380, h: 520 });
    console.log(`panel ${name}: mean change ${d.toFixed(4)}`);
    assert.ok(d > 0.002, `panel ${name} did not change (${d})`);
  }
});

/** Waits until the app has published the panels' steps and returns the page's data attributes. */
async function settled(page, steps) {
  await page.waitForFunction((want) => document.body.dataset.divlabPanelSteps === want, steps, { timeout: 240_000 });
  return page.evaluate(() => ({ ...document.body.dataset, hash: location.hash }));
}

test('a link opens two linked panels, survives a reload and the next visit; ui=min and a bad link', async () => {
  const { context, page, errors } = await open();
  const link = '#v=1&preset=two_modes_reverse_kl&layout=2&B.method.objective.divergence.kind=forward_kl&step=5';
  await page.goto(base + link);
  let data = await settled(page, '5,5');
  console.log(`linked: methods "${data.divlabPanelMethods}", address ${data.hash}`);
  const [a, b] = data.divlabPanelMethods.split(' | ');
  assert.match(a, /^reverse KL/);
  assert.match(b, /^forward KL/);
  const objectives = data.divlabPanelObjectives.split(',').map(Number);
  assert.notEqual(objectives[0], objectives[1]);
  // The address is rewritten from the state, with the same content.
  await page.waitForFunction(() => location.hash.includes('layout=2'), null, { timeout: 10_000 });
  assert.ok(data.divlabControls.includes('layout'), `controls ${data.divlabControls}`);
  await page.screenshot({ path: path.join(shots, 'web-link-two-panels.png') });
  // Reload: the same panels, the same values (deterministic from the seed).
  await page.reload();
  data = await settled(page, '5,5');
  assert.equal(data.divlabPanelObjectives.split(',').map(Number).join(), objectives.join());
  // The next visit without a link: the session is restored from local storage (saved when the page hides).
  await page.goto('about:blank');
  await page.goto(base);
  data = await settled(page, '5,5');
  assert.equal(data.divlabPanelMethods.split(' | ').length, 2, `restored ${data.divlabPanelMethods}`);
  await page.screenshot({ path: path.join(shots, 'web-link-restored.png') });
  // Classroom mode: only Run/Step/Reset are drawn.
  await page.goto(`${base}#v=1&preset=two_modes_reverse_kl&layout=2&ui=min`);
  await page.waitForFunction(() => document.body.dataset.divlabControls === 'run', null, { timeout: 60_000 });
  const min = path.join(shots, 'web-link-ui-min.png');
  await page.screenshot({ path: min });
  // The same, embedded in another page's iframe (a lecture slide).
  await page.setContent(`<link rel="icon" href="data:,"><iframe src="${base}#v=1&preset=two_modes_reverse_kl&ui=min&autoplay=1"
    width="900" height="560"></iframe>`);
  const frame = await (await page.waitForSelector('iframe')).contentFrame();
  await frame.waitForFunction(() => document.body.dataset.divlabControls === 'run' &&
    Number(document.body.dataset.divlabSteps) > 0, null, { timeout: 120_000 });
  await page.screenshot({ path: path.join(shots, 'web-link-iframe.png') });
  // A bad link: the default view stays, and the message names the key and the valid values.
  await page.goto(`${base}#v=1&layout=3`);
  await page.reload();
  await page.waitForFunction(() => (document.body.dataset.divlabMessage || '').includes('layout'), null,
    { timeout: 60_000 });
  const message = await page.evaluate(() => document.body.dataset.divlabMessage);
  console.log(`bad link: ${message}`);
  assert.match(message, /layout = `3`: valid values are 1, 2 and 4/);
  await page.screenshot({ path: path.join(shots, 'web-link-refused.png') });
  await context.close();
  assert.deepEqual(errors, [], 'console or page errors');
});

// The File menu and its "canvas (PNG)" entry in a 1200×800 window (checked by tests/ui_webpos.rs).
const FILE_MENU = { x: 224, y: 556 };
const CANVAS_PNG = { x: 297, y: 665 };
const FIGURE_SVG = { x: 377, y: 688 };
const ANIMATION_GIF = { x: 467, y: 688 };

/** Opens the File menu: clicks it, then waits until the app has drawn the open menu (software WebGPU
 * frames can take seconds), clicking again only if no frame showed it open. The page publishes what the
 * last frame drew, and a paused app draws only on input: a menu that closed on the previous click may still
 * be listed, so the mouse first moves (which draws a frame) before the menu counts as already open. */
async function openFileMenu(page) {
  const open = () => (document.body.dataset.divlabControls || '').split(',').includes('file-menu');
  const closed = () => !(document.body.dataset.divlabControls || '').split(',').includes('file-menu');
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await page.evaluate(open)) {
      await page.mouse.move(700, 790);
      try {
        await page.waitForFunction(closed, null, { timeout: 10_000 });
      } catch {
        break; // really open
      }
    }
    await page.mouse.click(FILE_MENU.x, FILE_MENU.y);
    try {
      await page.waitForFunction(open, null, { timeout: 20_000 });
      break;
    } catch {
      // No frame drew the menu open: click again.
    }
  }
  assert.ok(await page.evaluate(open), 'the File menu did not open');
  // The menu's first frame is a sizing pass; let the next frames lay it out where the test clicks.
  await page.waitForTimeout(500);
}

/** Clicks a File-menu entry and returns the download it starts. The click is repeated (menu reopened) only
 * when the page shows neither an export under way nor a new download 20 s after it. */
async function downloadFromFileMenu(page, at, timeout) {
  const downloaded = page.waitForEvent('download', { timeout });
  downloaded.catch(() => {}); // awaited by the caller; a timeout while retrying is not an unhandled rejection
  for (let attempt = 0; attempt < 3; attempt++) {
    const before = await page.evaluate(() => document.body.dataset.divlabDownload || '');
    await openFileMenu(page);
    await page.mouse.click(at.x, at.y);
    try {
      await page.waitForFunction((was) => (document.body.dataset.divlabExport || '') !== '' ||
        (document.body.dataset.divlabDownload || '') !== was, before, { timeout: 20_000 });
      break;
    } catch {
      const controls = await page.evaluate(() => document.body.dataset.divlabControls);
      console.log(`the click at (${at.x}, ${at.y}) started no export in 20 s (controls now "${controls}"): again`);
      await page.screenshot({ path: path.join(shots, `web-file-menu-retry-${attempt}.png`) });
    }
  }
  return downloaded;
}

test('the File menu downloads the canvas as a PNG of the canvas size', async () => {
  const { context, page, errors } = await open();
  await page.goto(`${base}?scenario=two_modes_reverse_kl&layout=2`);
  await page.waitForFunction(() => document.body.dataset.divlabHeatmap === 'drawn', null, { timeout: 120_000 });
  await page.waitForTimeout(1000);
  await openFileMenu(page);
  await page.screenshot({ path: path.join(shots, 'web-file-menu.png') });
  const download = await downloadFromFileMenu(page, CANVAS_PNG, 120_000);
  const file = path.join(shots, 'web-download-canvas.png');
  await download.saveAs(file);
  const bytes = fs.readFileSync(file);
  const published = await page.evaluate(() => document.body.dataset.divlabDownload);
  await context.close();
  // A PNG: the signature, then the IHDR's width and height (big-endian).
  assert.equal(bytes.subarray(1, 4).toString(), 'PNG');
  const [w, h] = [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
  console.log(`download ${download.suggestedFilename()}: ${bytes.length} bytes, ${w}×${h}; page says "${published}"`);
  assert.match(download.suggestedFilename(), /\.png$/);
  assert.ok(published.endsWith(`${bytes.length}`), `the page published "${published}", the file has ${bytes.length} bytes`);
  // The canvas right of the side panel at the page's resolution (1200×800 points, device scale 1).
  assert.ok(w > 800 && w < 1000 && h > 700 && h <= 800, `${w}×${h}`);
  assert.deepEqual(errors, [], 'console or page errors');
});

test('the File menu downloads the figure as SVG and the fit as a GIF, drawn by the render layer', async () => {
  const { context, page, errors } = await open();
  await page.goto(`${base}#v=1&preset=two_modes_reverse_kl&layout=2&step=10`);
  await page.waitForFunction(() => document.body.dataset.divlabHeatmap === 'drawn', null, { timeout: 120_000 });
  await page.waitForFunction(() => /step=10/.test(location.hash), null, { timeout: 60_000 });
  await page.waitForTimeout(1000);
  const take = async (at, name) => {
    const download = await downloadFromFileMenu(page, at, 240_000);
    const file = path.join(shots, name);
    await download.saveAs(file);
    await page.keyboard.press('Escape');
    return [download.suggestedFilename(), fs.readFileSync(file)];
  };
  const [svgName, svg] = await take(FIGURE_SVG, 'web-download-figure.svg');
  const text = svg.toString();
  assert.match(svgName, /_figure\.svg$/);
  assert.ok(text.startsWith('<svg') || text.includes('<svg '), 'an SVG document');
  // Both panels, at the step the page shows.
  assert.equal((text.match(/· step 10/g) || []).length, 2, 'two panel titles at step 10');
  const started = Date.now();
  const [gifName, gif] = await take(ANIMATION_GIF, 'web-download-animation.gif');
  const seconds = (Date.now() - started) / 1000;
  const published = await page.evaluate(() => document.body.dataset.divlabDownload);
  await page.screenshot({ path: path.join(shots, 'web-after-animation.png') });
  await context.close();
  assert.match(gifName, /_animation\.gif$/);
  assert.equal(gif.subarray(0, 6).toString(), 'GIF89a');
  // The logical screen: two panels of 480 × 430 side by side.
  assert.deepEqual([gif.readUInt16LE(6), gif.readUInt16LE(8)], [960, 430]);
  // Frames: one Graphic Control Extension (0x21 0xF9 0x04) each; steps 0 to 10, one a step.
  let frames = 0;
  for (let i = 0; i + 2 < gif.length; i++) if (gif[i] === 0x21 && gif[i + 1] === 0xf9 && gif[i + 2] === 0x04) frames++;
  console.log(`figure ${svgName}: ${svg.length} bytes; animation ${gifName}: ${gif.length} bytes, ${frames} frames, ${seconds.toFixed(1)} s`);
  assert.ok(frames >= 11, `${frames} frames`);
  assert.ok(published.endsWith(`${gif.length}`), `the page published "${published}"`);
  assert.deepEqual(errors, [], 'console or page errors');
});

// Phone positions in a 390×844 viewport (tests/ui_webtouch.rs checks them against the native layout and plays
// the same gestures with the pointer): the Controls toggle, the "edit the target on the canvas" checkbox
// once the controls are open, and component 0's centre of the default target once they are folded again.
const PHONE_CONTROLS = { x: 320, y: 12 };
const PHONE_EDIT_CHECKBOX = { x: 60, y: 478 };
const PHONE_CENTRE = { x: 154, y: 229 };
const PHONE_DRAG = { x: 50, y: -40 };

/** The default target's component means as published by the app ("x,y;x,y;…"). */
async function targetMeans(page) {
  const text = await page.evaluate(() => document.body.dataset.divlabTarget);
  assert.ok(text, 'no data-divlab-target');
  return text.split(';').map((p) => p.split(',').map(Number));
}

test('on a phone, a touch drag moves a target component', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true,
    deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors = await watch(page);
  await page.goto(base);
  await page.waitForFunction(() => document.body.dataset.divlabHeatmap === 'drawn', null, { timeout: 120_000 });
  await page.waitForTimeout(1000);
  const before = await targetMeans(page);
  await page.touchscreen.tap(PHONE_CONTROLS.x, PHONE_CONTROLS.y);
  await page.waitForTimeout(700);
  await page.screenshot({ path: path.join(shots, 'web-phone-controls.png') });
  await page.touchscreen.tap(PHONE_EDIT_CHECKBOX.x, PHONE_EDIT_CHECKBOX.y);
  await page.waitForTimeout(700);
  await page.touchscreen.tap(PHONE_CONTROLS.x, PHONE_CONTROLS.y);
  await page.waitForTimeout(700);
  await page.screenshot({ path: path.join(shots, 'web-phone-edit-before.png') });
  // A real touch drag: touchStart on the centre, touchMoves along the way, touchEnd (CDP, as a finger would).
  const cdp = await context.newCDPSession(page);
  const point = (k, n) => ({ x: PHONE_CENTRE.x + (PHONE_DRAG.x * k) / n, y: PHONE_CENTRE.y + (PHONE_DRAG.y * k) / n,
    id: 1, radiusX: 4, radiusY: 4, force: 1 });
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [point(0, 1)] });
  await page.waitForTimeout(150);
  const n = 10;
  for (let k = 1; k <= n; k++) {
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [point(k, n)] });
    await page.waitForTimeout(80);
  }
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await page.waitForTimeout(1000);
  const file = path.join(shots, 'web-phone-touch-drag.png');
  await page.screenshot({ path: file });
  const after = await targetMeans(page);
  await context.close();
  console.log(`touch drag: component 0 ${JSON.stringify(before[0])} -> ${JSON.stringify(after[0])}; screenshot ${file}`);
  assert.deepEqual(errors, [], 'console or page errors');
  assert.equal(after.length, before.length);
  // Dragged right and up on screen: x and y of the centre grow; the other components stay.
  assert.ok(after[0][0] - before[0][0] > 0.1 && after[0][1] - before[0][1] > 0.1,
    `component 0 did not follow the finger: ${before[0]} -> ${after[0]}`);
  assert.deepEqual(after.slice(1), before.slice(1));
});

test('says so in plain words when neither WebGPU nor WebGL2 exists', async () => {
  const { context, page } = await open(() => {
    delete Navigator.prototype.gpu;
    const orig = HTMLCanvasElement.prototype.getContext;
    HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
      return kind === 'webgl2' || kind === 'webgl' ? null : orig.call(this, kind, ...rest);
    };
  });
  await page.goto(base);
  await page.waitForFunction(() => document.body.dataset.divlabState === 'error', null, { timeout: 30_000 });
  const text = await page.textContent('#status_text');
  assert.match(text, /neither WebGPU nor WebGL2/);
  assert.ok(await page.isVisible('#status_text'));
  await page.screenshot({ path: path.join(shots, 'web-no-graphics.png') });
  await context.close();
});

test('says so in plain words when the wasm module fails to load', async () => {
  const { context, page } = await open();
  await page.route('**/divlab_bg.wasm', (route) => route.fulfill({ status: 404, body: 'not found' }));
  await page.goto(base);
  await page.waitForFunction(() => document.body.dataset.divlabState === 'error', null, { timeout: 30_000 });
  const text = await page.textContent('#status_text');
  assert.match(text, /could not load its WebAssembly module/);
  await page.screenshot({ path: path.join(shots, 'web-wasm-missing.png') });
  await context.close();
});
