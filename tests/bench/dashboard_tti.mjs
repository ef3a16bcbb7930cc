// Time to interactive for /admin, measured in a real browser: from the
// navigation's start to the sign-in button being visible and enabled (the
// page's script loaded, ran and drew the form), then — signed in — to the
// apps list. Cold: a fresh browser context each run; warm: a reload in it.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(`${process.env.NODE_PATH}/`);
const { chromium } = require('playwright-core');
const [url, executablePath, runsText, username, password] = process.argv.slice(2);
const runs = Number(runsText);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.9) - 1)];

async function timed(page, ready) {
  const start = performance.now();
  await ready();
  return performance.now() - start;
}

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
const cold = [], warm = [], apps = [];
try {
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const signIn = page.getByRole('button', { name: 'Sign in' });
    cold.push(await timed(page, async () => {
      await page.goto(url, { waitUntil: 'commit' });
      await signIn.waitFor({ state: 'visible' });
      await page.waitForFunction(() => !document.querySelector('button[type=submit]')?.disabled);
    }));
    warm.push(await timed(page, async () => {
      await page.reload({ waitUntil: 'commit' });
      await signIn.waitFor({ state: 'visible' });
    }));
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await signIn.click();
    await page.getByRole('heading', { name: 'Apps' }).first().waitFor();
    apps.push(await timed(page, async () => {
      await page.reload({ waitUntil: 'commit' });
      await page.getByRole('heading', { name: 'Apps' }).first().waitFor();
    }));
    await context.close();
  }
} finally {
  await browser.close();
}
const line = (label, xs) =>
  console.log(`  ${label.padEnd(44)} median ${median(xs).toFixed(0).padStart(4)} ms   p90 ${p90(xs).toFixed(0).padStart(4)} ms`);
console.log(`time to interactive (${runs} runs, loopback):`);
line('sign-in form, cold (nothing cached)', cold);
line('sign-in form, warm (reload)', warm);
line('apps list, signed in (reload)', apps);
