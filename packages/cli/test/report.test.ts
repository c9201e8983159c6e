import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { here, nas, TINY } from './helpers.js';

const ARTIFACTS = join(here, '..', 'test-artifacts');
const CHROMIUM = [process.env.TSNAS_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => !!p && existsSync(p),
);

const root = mkdtempSync(join(tmpdir(), 'nas-report-'));
const run = join(root, 'run');
let summaryLine: any;

beforeAll(() => {
  const r = nas(['darts', '--config', TINY, '--exp-dir', run, '--seed', '7', '--json']);
  expect(r.code, r.stderr).toBe(0);
  summaryLine = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}, 120_000);

describe('nas report', () => {
  it('every run writes report.html into its folder and names it in the summary', () => {
    expect(summaryLine.report).toBe(join(run, 'report.html'));
    const html = readFileSync(summaryLine.report, 'utf8');
    // Self-contained: nothing is fetched, from the network or from beside the file.
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="(?!data:)/);
    expect(html).toContain('<script>');
    expect(html).toContain('uPlot');
    // The search recorded its alphas per epoch (tiny profile: 2 search epochs).
    const alphas = readFileSync(join(run, 'search', 'alphas.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(alphas.map((l) => JSON.parse(l).epoch)).toEqual([0, 1]);
  });

  it('a folder that is not an experiment exits 2 naming it; an unfinished run still gets a page', () => {
    const empty = mkdtempSync(join(tmpdir(), 'not-an-exp-'));
    const bad = nas(['report', empty]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${empty}: not an experiment folder`);
    const missing = nas(['report', join(root, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope: no such folder');

    const crashed = join(root, 'crashed');
    cpSync(run, crashed, { recursive: true });
    rmSync(join(crashed, 'summary.json'));
    rmSync(join(crashed, 'eval'), { recursive: true });
    rmSync(join(crashed, 'report.html'));
    // A crash can cut the last metrics line short.
    writeFileSync(
      join(crashed, 'search', 'metrics.jsonl'),
      `${readFileSync(join(run, 'search', 'metrics.jsonl'), 'utf8')}{"type":"ep`,
    );
    const r = nas(['report', crashed]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`unfinished: ${crashed}`);
    const html = readFileSync(join(crashed, 'report.html'), 'utf8');
    expect(html).toContain('summary.json is missing');
    expect(html).toContain('1 unreadable line(s) skipped');
    expect(html).toContain('Architecture weights during the search');
  });

  it('several experiments give a comparison page with a seed sweep', () => {
    const second = join(root, 'seed8');
    cpSync(run, second, { recursive: true });
    const s = JSON.parse(readFileSync(join(second, 'summary.json'), 'utf8'));
    const first = summaryLine.summary.eval.test_top1;
    s.seed = 8;
    s.eval.test_top1 = first + 0.1;
    writeFileSync(join(second, 'summary.json'), JSON.stringify(s));
    const out = join(root, 'compare.html');
    const r = nas(['report', run, second, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('2 experiments');
    // Mean and sample standard deviation of the two runs' test top1.
    const mean = first + 0.05;
    const std = Math.sqrt(2 * 0.05 ** 2);
    expect(html).toContain(`${(mean * 100).toFixed(2)}%`);
    expect(html).toContain(`&plusmn; ${(std * 100).toFixed(2)}%`);
    const noFolder = nas(['report', run, '--out', join(root, 'missing', 'x.html')]);
    expect(noFolder.code).toBe(2);
    expect(noFolder.stderr).toContain('does not exist');
  });

  describe.skipIf(!CHROMIUM)(`in Chromium (${CHROMIUM ?? 'none found'})`, () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        // As root in CI: no sandbox; no background traffic to a closed network.
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      });
    });
    afterAll(async () => browser?.close());

    it('shows the test accuracy, both cells and charts with data, with no error and no request', async () => {
      const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (req) => {
        if (!req.url().startsWith('file:') && !req.url().startsWith('data:'))
          problems.push(`request: ${req.url()}`);
      });
      page.on('requestfailed', (req) => problems.push(`failed: ${req.url()}`));
      await page.goto(`file://${summaryLine.report}`);
      const top1 = `${(summaryLine.summary.eval.test_top1 * 100).toFixed(2)}%`;
      expect(await page.locator('#test-top1').textContent()).toBe(top1);
      for (const alt of ['normal cell', 'reduction cell']) {
        const loaded = await page
          .locator(`img[alt="${alt}"]`)
          .evaluate(
            (img) =>
              (img as unknown as { complete: boolean; naturalWidth: number }).complete &&
              (img as unknown as { naturalWidth: number }).naturalWidth > 0,
          );
        expect(loaded, alt).toBe(true);
      }
      const drawn = await page
        .locator('[data-chart]')
        .evaluateAll((els) =>
          els.map((e) => Number((e as unknown as { dataset: Record<string, string> }).dataset.drawn ?? 0)),
        );
      expect(drawn.length).toBeGreaterThan(0);
      expect(drawn.filter((n) => n > 0).length).toBe(drawn.length);
      expect(await page.locator('[data-chart] canvas').count()).toBe(drawn.length);
      // The heat map follows its slider: the first epoch's weights differ from the last's.
      const table = page.locator('.heatmap table');
      const weights = () =>
        table.locator('td').evaluateAll((tds) => tds.map((td) => td.getAttribute('title')));
      const last = await weights();
      await page.locator('.heatmap input[type=range]').fill('0');
      expect(await page.locator('.heatmap label span').textContent()).toBe('0 (1 of 2)');
      const first = await weights();
      expect(first).toHaveLength(last.length);
      expect(first).not.toEqual(last);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
      expect(problems).toEqual([]);
      await page.close();
    });
  });
});
