// Loads a page in headless Chromium (Debian's, driven by puppeteer-core over
// the DevTools protocol), waits, and prints one JSON line on stdout: the
// text the page rendered and every script error it logged. tests/browser.rs
// runs it against the dashboard; with --screenshot it also saves a PNG (how
// docs/dashboard.png is made).
//
//   node check.mjs URL [--wait MS] [--until REGEX] [--screenshot FILE]
//                      [--width W --height H] [--layout] [--names A,B,...]
//
// Without --until it waits MS (1500) after loading; with it, it polls the
// page's text every 100 ms until REGEX matches ("matched": true) or MS pass.
//
// --layout adds "layout": whether the page is wider than the window, every
// element whose content is wider than its box (cut off, or spilling over),
// and the smallest text on the page. --names adds, for each name, whether
// the element marked data-name="NAME" shows it whole inside the window, and
// the badges (.tag) beside it that can be seen.
//
// Exit code: 0 when the page loaded (whatever it showed: the caller judges),
// 1 when the browser could not start or the page could not load, with the
// reason in the JSON's "failure".

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const args = process.argv.slice(2);
const url = args[0];
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i > 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const waitMs = Number(option("--wait", "1500"));
const until = option("--until", null);
const screenshot = option("--screenshot", null);
const layout = args.includes("--layout");
const names = option("--names", null);
const width = Number(option("--width", "1280"));
const height = Number(option("--height", "800"));
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

const result = { url, text: "", title: "", pageErrors: [], consoleErrors: [], failedRequests: [] };
// A fresh profile each run: nothing remembered between tests.
const profile = mkdtempSync(join(tmpdir(), "chatroom-chromium-"));
let browser;
// Whatever happens, the script ends: a hung browser must not hang the test.
const watchdog = setTimeout(() => finish("the browser hung"), waitMs + 45_000);

async function finish(failure) {
  clearTimeout(watchdog);
  if (failure) result.failure = failure;
  try {
    if (browser) await browser.close();
  } catch {
    // Closing a browser that already died.
  }
  rmSync(profile, { recursive: true, force: true });
  console.log(JSON.stringify(result));
  process.exit(failure ? 1 : 0);
}

// Runs in the page: what --layout and --names report.
function measure(names) {
  const width = window.innerWidth;
  const height = window.innerHeight;
  const describe = (el) =>
    el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") +
    ` "${(el.textContent || "").trim().slice(0, 40)}"`;
  const rendered = (el) => el.getClientRects().length > 0;
  // Content wider than its box: scrollWidth counts what spills over even
  // where nothing clips it. Inline boxes and table rows have no box width
  // of their own; a canvas draws its own pixels.
  const overflowing = [];
  for (const el of document.querySelectorAll("body, body *")) {
    const style = getComputedStyle(el);
    if (["inline", "none", "table-row", "contents"].includes(style.display)) continue;
    if (el instanceof HTMLCanvasElement || el.tagName === "SCRIPT" || !rendered(el)) continue;
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      overflowing.push({ element: describe(el), scrollWidth: el.scrollWidth,
        clientWidth: el.clientWidth, overflowX: style.overflowX });
    }
  }
  // The smallest text: every element with text of its own that is drawn.
  let smallest = null;
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    if (!own || !rendered(el)) continue;
    const px = parseFloat(getComputedStyle(el).fontSize);
    if (!smallest || px < smallest.px) smallest = { px, element: describe(el) };
  }
  // Whole inside the window, and inside every box around it that clips.
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (!rendered(el) || r.width === 0 || r.left < 0 || r.top < 0 || r.right > width + 0.5 ||
        r.bottom > height + 0.5) return false;
    for (let up = el.parentElement; up; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (style.overflowX === "visible" && style.overflowY === "visible") continue;
      const box = up.getBoundingClientRect();
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
          r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) return false;
    }
    return el.scrollWidth <= el.clientWidth + 1 || el.clientWidth === 0;
  };
  const shown = names.map((name) => {
    const el = [...document.querySelectorAll("[data-name]")].find((e) => e.dataset.name === name);
    if (!el) return { name, found: false, visible: false, tags: [] };
    const row = el.closest("tr") || el.parentElement;
    const tags = [...row.querySelectorAll(".tag")].filter(visible).map((t) => t.textContent.trim());
    return { name, found: true, visible: el.textContent === name && visible(el), tags };
  });
  return {
    innerWidth: width,
    scrollWidth: document.scrollingElement.scrollWidth,
    overflowing,
    smallest,
    names: shown,
  };
}

try {
  browser = await puppeteer.launch({
    executablePath,
    headless: true,
    // This machine reaches no network but package registries: without these,
    // Chromium's own background connections are refused many at a time.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
    ],
  });
  const page = await browser.newPage();
  await page.setViewport({ width, height });
  page.on("pageerror", (error) => result.pageErrors.push(String(error)));
  // The renderer itself died (out of memory, a crash): as bad as a script error.
  page.on("error", (error) => result.pageErrors.push(`the page crashed: ${error}`));
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) result.navigations = (result.navigations || 0) + 1;
  });
  page.on("console", (message) => {
    if (message.type() === "error") result.consoleErrors.push(message.text());
  });
  page.on("requestfailed", (request) => {
    // The event stream is cut when the browser closes; that is not a failure.
    if (!request.url().endsWith("/events")) {
      result.failedRequests.push(`${request.url()}: ${request.failure()?.errorText}`);
    }
  });
  const response = await page.goto(url, { waitUntil: "load", timeout: 20_000 });
  result.status = response ? response.status() : null;
  const text = () => page.evaluate(() => document.body.innerText);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  if (until) {
    const wanted = new RegExp(until);
    const deadline = Date.now() + waitMs;
    result.matched = false;
    while (!result.matched && Date.now() < deadline) {
      result.matched = wanted.test(await text());
      if (!result.matched) await sleep(100);
    }
  } else {
    await sleep(waitMs);
  }
  result.title = await page.title();
  result.text = await text();
  if (layout || names) {
    result.layout = await page.evaluate(measure, names ? names.split(",") : []);
  }
  if (screenshot) await page.screenshot({ path: screenshot });
  await finish(null);
} catch (error) {
  await finish(String(error && error.stack ? error.stack : error));
}
