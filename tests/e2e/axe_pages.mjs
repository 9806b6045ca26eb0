#!/usr/bin/env node
// Accessibility check of web pages in headless Debian Chromium: axe-core (WCAG 2.0/2.1 A and AA
// rules, at 1280 px) plus three checks axe cannot make: a visible focus ring on every focusable element,
// a skip link that shows when focused, and no sideways scrolling at 320 px (reflow).
//
//   node tests/e2e/axe_pages.mjs BASE_URL PATH... [--screenshot PATH=OUT.png]... [--timeout 30]
//
//   node tests/e2e/axe_pages.mjs http://127.0.0.1:3978 / /n/digisumpit /privacy \
//        --screenshot /n/digisumpit=var/page-network.png
//
// Prints one JSON object: {"ms", "pages": [{"path", "status", "ms", "lang", "title",
// "violations": [...], "problems": [...]}]}, where a violation is axe's {id, impact, help, targets} and a problem is a
// sentence. Exits 0 when it could check every page (whatever it found), 1 when it could not.
// Needs /usr/bin/chromium (or $CHROMIUM) and `npm ci` (playwright-core, @axe-core/playwright).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium } from 'playwright-core';

const USAGE = 'usage: node tests/e2e/axe_pages.mjs BASE_URL PATH... [--screenshot PATH=OUT.png] [--timeout SECONDS]';
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const DESKTOP = { width: 1280, height: 900 };
const NARROW = { width: 320, height: 640 };

function fail(message) {
  process.stderr.write(`axe_pages: ${message}\n`);
  process.exit(1);
}

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      screenshot: { type: 'string', multiple: true, default: [] },
      timeout: { type: 'string', default: '30' },
    },
  });
} catch (error) {
  fail(`${error.message}\n${USAGE}`);
}
const [base, ...paths] = args.positionals;
if (!base || paths.length === 0) fail(USAGE);
const timeout = Number(args.values.timeout) * 1000;
const screenshots = new Map(
  args.values.screenshot.map((pair) => {
    const at = pair.lastIndexOf('=');
    if (at < 1) fail(`--screenshot wants PATH=OUT.png, not ${pair}`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(executablePath)) {
  fail(`${executablePath} not found: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM`);
}

// Tab through the page: every element that takes the focus must show an outline (or a box
// shadow) of at least 2 px; the first stop must be the skip link, and it must then be on screen.
async function keyboardProblems(page) {
  const problems = [];
  // Start before the first element, as a reader who has just opened the page does.
  await page.evaluate(() => {
    window.scrollTo(0, 0);
    const start = document.createElement('span');
    start.id = 'axe-pages-start';
    start.tabIndex = -1;
    document.body.prepend(start);
    start.focus();
  });
  for (let stop = 0; stop < 40; stop += 1) {
    await page.keyboard.press('Tab');
    const focus = await page.evaluate(() => {
      const element = document.activeElement;
      if (!element || element === document.body) return null;
      const style = getComputedStyle(element);
      const box = element.getBoundingClientRect();
      return {
        tag: element.tagName.toLowerCase(),
        text: (element.textContent || '').trim().slice(0, 60),
        className: element.className || '',
        outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
        shadow: style.boxShadow !== 'none',
        visible: box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
          && box.top < window.innerHeight + window.scrollY && box.left < window.innerWidth,
      };
    });
    if (stop === 0) await page.evaluate(() => document.getElementById('axe-pages-start')?.remove());
    if (focus === null) break;
    if (stop === 0 && !String(focus.className).includes('skip-link')) {
      problems.push(`the first Tab stop is ${focus.tag} "${focus.text}", not the skip link`);
    }
    if (stop === 0 && !focus.visible) problems.push('the skip link is not visible when focused');
    if (!focus.outline && !focus.shadow) {
      problems.push(`no visible focus indicator on ${focus.tag} "${focus.text}"`);
    }
  }
  return problems;
}

const launched = Date.now();
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tapaamo-axe-'));
let context;
const results = [];
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: DESKTOP,
    locale: 'en-GB',
    timeout,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  context.setDefaultTimeout(timeout);
  const page = context.pages()[0] ?? (await context.newPage());
  for (const pagePath of paths) {
    const started = Date.now();
    const timings = {};
    const lap = (name) => { timings[name] = Date.now() - started; };
    const url = new URL(pagePath, base).href;
    await page.setViewportSize(DESKTOP);
    const response = await page.goto(url, { waitUntil: 'load' });
    const problems = [];
    const cssOk = await page.evaluate(() => [...document.styleSheets].some((sheet) => sheet.cssRules.length > 0));
    if (!cssOk) problems.push('the stylesheet did not load');
    lap('load');
    const axe = await new AxeBuilder({ page }).withTags(TAGS).analyze();
    lap('axe');
    const violations = axe.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((node) => node.target.join(' ')).slice(0, 10),
    }));
    problems.push(...(await keyboardProblems(page)));
    lap('keyboard');
    if (screenshots.has(pagePath)) {
      const out = screenshots.get(pagePath);
      fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
      await page.evaluate(() => document.activeElement?.blur());
      await page.screenshot({ path: out, fullPage: true });
    }
    await page.setViewportSize(NARROW);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 1) problems.push(`scrolls sideways by ${overflow} px at 320 px wide`);
    lap('narrow');
    results.push({
      path: pagePath,
      ms: timings,
      status: response ? response.status() : null,
      lang: await page.evaluate(() => document.documentElement.lang),
      title: await page.title(),
      violations,
      problems,
    });
  }
} catch (error) {
  fail(error.stack || String(error));
} finally {
  await context?.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify({ ms: Date.now() - launched, pages: results }, null, 2)}\n`);
