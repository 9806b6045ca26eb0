#!/usr/bin/env node
// Screenshot of the Microsoft 365 Agents Playground's chat UI, optionally after sending a message.
//
//   node scripts/screenshot.mjs URL OUT.png [MESSAGE] [--chat NAME] [--hide-log]
//        [--width 1400] [--height 900] [--timeout 30]
//        [--wait-for TEXT]... [--scroll-to TEXT] [--print-text]
//
//   node scripts/screenshot.mjs http://127.0.0.1:56150 var/screenshot-help.png help
//
// Opens URL in headless Debian Chromium (/usr/bin/chromium, or $CHROMIUM) with a fresh profile,
// waits for the chat to load, selects the chat NAME (default: the personal chat), types MESSAGE
// into the chat box and sends it, waits until a new message of the bot has rendered, and saves a
// PNG. Needs `apt-get install chromium` and `npm ci` (playwright-core). Exits non-zero, with the
// reason, when the page or the bot's reply does not come within --timeout seconds.
//
// The Playground's chat UI shows only the messages that arrive while it is open (and opening a
// chat installs the app there, which may bring a welcome message). So to show messages the bot
// posts on its own, such as a durable job's card:
//   --wait-for TEXT  (repeatable) once the chat has loaded and settled, print the line
//                    "screenshot: waiting for N texts" (make the bot post them then) and wait until
//                    the page shows every TEXT, within --timeout seconds;
//   --scroll-to TEXT scroll the chat so that the first Adaptive Card showing TEXT is at the top;
//   --print-text     print, as one JSON line {"cards": [{"text", "visible"}]}, the text of every
//                    Adaptive Card on the page and whether it is wholly in view of the chat.
//
// In a group chat or channel the bot only hears messages that @mention it, which this script
// does not type: use the personal chat for commands.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const USAGE = 'usage: node scripts/screenshot.mjs URL OUT.png [MESSAGE] [--chat NAME] [--hide-log] '
  + '[--width PX] [--height PX] [--timeout SECONDS] [--wait-for TEXT]... [--scroll-to TEXT] [--print-text]';

function fail(message) {
  process.stderr.write(`screenshot: ${message}\n`);
  process.exit(1);
}

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      chat: { type: 'string' },
      'hide-log': { type: 'boolean', default: false },
      'wait-for': { type: 'string', multiple: true, default: [] },
      'scroll-to': { type: 'string' },
      'print-text': { type: 'boolean', default: false },
      width: { type: 'string', default: '1400' },
      height: { type: 'string', default: '900' },
      timeout: { type: 'string', default: '30' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (error) {
  fail(`${error.message}\n${USAGE}`);
}
if (args.values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const [url, out, message] = args.positionals;
if (!url || !out || args.positionals.length > 3) fail(USAGE);
const timeout = Number(args.values.timeout) * 1000;
const viewport = { width: Number(args.values.width), height: Number(args.values.height) };
if (!(timeout > 0) || !(viewport.width > 0) || !(viewport.height > 0)) fail(USAGE);

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(executablePath)) {
  fail(`${executablePath} not found: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM`);
}

// The bot's display name, from the Playground's config: its messages carry it as their author.
async function botName() {
  let response;
  try {
    response = await fetch(new URL('/_internal/v1/config', url), { signal: AbortSignal.timeout(timeout) });
  } catch (error) {
    throw new Error(`cannot reach the Playground at ${url} (is \`make run\` running?): ${error.cause?.code ?? error.message}`);
  }
  if (!response.ok) throw new Error(`GET /_internal/v1/config answered ${response.status}`);
  const body = await response.json();
  return body?.config?.bot?.name || 'Bot';
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tapaamo-chromium-'));
let context;
try {
  const name = await botName();
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport,
    locale: 'en-US',
    timeout,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  context.setDefaultTimeout(timeout);
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  const input = page.getByRole('textbox').first();
  await input.waitFor({ state: 'visible' });

  if (args.values.chat) {
    // A chat of the list is a treeitem (older Playgrounds: a button); a channel "Team - Channel".
    await page
      .getByRole('treeitem', { name: args.values.chat })
      .or(page.getByRole('button', { name: args.values.chat }))
      .first()
      .click();
  }
  if (args.values['hide-log']) {
    await page.getByTitle('Hide log panel').first().click();
  }

  // Bot messages so far: its name alone in a message header, and rendered Adaptive Cards.
  const count = () =>
    page.evaluate((author) => {
      const headers = [...document.querySelectorAll('body *')].filter(
        (element) => element.childElementCount === 0 && element.textContent.trim() === author,
      ).length;
      return headers + document.querySelectorAll('.ac-adaptiveCard').length;
    }, name);
  // Until the count has not moved for a second (the first visit installs the app, and a welcome
  // message may still be on its way).
  const settle = async () => {
    const deadline = Date.now() + timeout;
    let last = await count();
    let since = Date.now();
    while (Date.now() - since < 1000) {
      if (Date.now() > deadline) throw new Error('the chat did not settle');
      await page.waitForTimeout(100);
      const now = await count();
      if (now !== last) [last, since] = [now, Date.now()];
    }
    return last;
  };

  if (message) {
    const before = await settle();
    await input.click();
    await page.keyboard.type(message);
    await page.keyboard.press('Enter');
    try {
      await page.waitForFunction(
        ([author, seen]) => {
          const headers = [...document.querySelectorAll('body *')].filter(
            (element) => element.childElementCount === 0 && element.textContent.trim() === author,
          ).length;
          return headers + document.querySelectorAll('.ac-adaptiveCard').length > seen;
        },
        [name, before],
        { timeout },
      );
    } catch {
      throw new Error(`no reply of ${name} to "${message}" rendered within ${timeout / 1000} s`);
    }
  }
  await settle();
  const texts = args.values['wait-for'];
  if (texts.length > 0) {
    process.stdout.write(`screenshot: waiting for ${texts.length} texts\n`);
    try {
      await page.waitForFunction(
        (wanted) => wanted.every((t) => document.body.innerText.includes(t)),
        texts,
        { timeout, polling: 100 },
      );
    } catch {
      const shown = await page
        .evaluate((wanted) => wanted.filter((t) => document.body.innerText.includes(t)), texts)
        .catch(() => []);
      const missing = texts.filter((t) => !shown.includes(t));
      throw new Error(`the page did not show ${JSON.stringify(missing)} within ${timeout / 1000} s`);
    }
    await settle();
  }
  const scrollTo = args.values['scroll-to'];
  if (scrollTo !== undefined) {
    const found = await page.evaluate((text) => {
      const card = [...document.querySelectorAll('.ac-adaptiveCard')].find((c) => c.innerText.includes(text));
      if (!card) return false;
      card.scrollIntoView({ block: 'start' });
      // Room above the card for its message's header (author and time).
      let box = card.parentElement;
      while (box && !(box.scrollHeight > box.clientHeight && /auto|scroll/.test(getComputedStyle(box).overflowY))) {
        box = box.parentElement;
      }
      box?.scrollBy(0, -48);
      return true;
    }, scrollTo);
    if (!found) throw new Error(`no Adaptive Card shows ${JSON.stringify(scrollTo)}`);
    await page.waitForTimeout(300);
  }
  await page.evaluate(() => document.fonts.ready);
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  await page.screenshot({ path: out });
  if (args.values['print-text']) {
    const cards = await page.evaluate(() => {
      const scroller = (element) => {
        let box = element.parentElement;
        while (box && !(box.scrollHeight > box.clientHeight && /auto|scroll/.test(getComputedStyle(box).overflowY))) {
          box = box.parentElement;
        }
        return box;
      };
      return [...document.querySelectorAll('.ac-adaptiveCard')]
        .filter((card) => !card.parentElement.closest('.ac-adaptiveCard'))
        .map((card) => {
          const rect = card.getBoundingClientRect();
          const view = scroller(card)?.getBoundingClientRect() ?? { top: 0, bottom: window.innerHeight };
          const visible = rect.height > 0 && rect.top >= Math.max(view.top, 0)
            && rect.bottom <= Math.min(view.bottom, window.innerHeight);
          return { text: card.innerText, visible };
        });
    });
    process.stdout.write(`${JSON.stringify({ cards })}\n`);
  }
  process.stdout.write(`screenshot: saved ${out}\n`);
} catch (error) {
  fail(error.message.split('\n')[0]);
} finally {
  await context?.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true });
}
