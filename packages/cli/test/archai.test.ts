import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { here, nas } from './helpers.js';

// Fixtures written by packages/descs/src/__tests__/fixtures/archai/generate.py (yaml.dump of
// stand-ins for Archai's desc classes) and an Archai config_used.yaml.
const DESC = join(here, '../../descs/src/__tests__/fixtures/archai/darts_search_final_model_desc.yaml');
const CONFIG_USED = join(here, '../../config/src/__tests__/fixtures/archai/config_used.yaml');
const GENOTYPE =
  "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_5x5', 1), ('skip_connect', 0), ('dil_conv_3x3', 2), ('sep_conv_3x3', 1), ('skip_connect', 0), ('dil_conv_5x5', 3)], normal_concat=[2, 3, 4, 5], " +
  "reduce=[('max_pool_3x3', 0), ('avg_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('dil_conv_5x5', 2), ('skip_connect', 2), ('sep_conv_3x3', 4)], reduce_concat=[2, 3, 4, 5])";

const dir = mkdtempSync(join(tmpdir(), 'nas-archai-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('nas desc on Archai files', () => {
  it("--genotype prints the DARTS genotype of an Archai search's final_model_desc.yaml", () => {
    const r = nas(['desc', DESC, '--genotype']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${GENOTYPE}\n`);
  });

  it('an unknown tag exits 2 naming the tag and its line', () => {
    const text = readFileSync(DESC, 'utf8');
    const at = text.indexOf('trainables: null');
    const line = text.slice(0, at).split('\n').length;
    const bad = join(dir, 'final_model_desc.yaml');
    writeFileSync(
      bad,
      `${text.slice(0, at)}trainables: !!python/object/apply:torch._utils._rebuild_tensor_v2 []${text.slice(at + 'trainables: null'.length)}`,
    );
    const r = nas(['desc', bad, '--genotype']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      new RegExp(
        `^nas: error: .*final_model_desc\\.yaml:${line}:\\d+: unknown YAML tag '!!python/object/apply:torch\\._utils\\._rebuild_tensor_v2'`,
      ),
    );
  });

  it('--format archai and --format tsnas convert both ways and keep the desc', () => {
    const tsnasFile = join(dir, 'from-archai.yaml');
    const archaiFile = join(dir, 'back.yaml');
    const toTsnas = nas(['desc', DESC, '--format', 'tsnas', '--out', tsnasFile]);
    expect(toTsnas.code).toBe(0);
    expect(readFileSync(tsnasFile, 'utf8')).toMatch(/^format: tsnas\/model-desc\n/);
    const toArchai = nas(['desc', tsnasFile, '--format', 'archai', '--out', archaiFile]);
    expect(toArchai.code).toBe(0);
    expect(toArchai.stdout).toContain(`wrote ${archaiFile} (archai desc)`);
    // Archai -> tsnas -> Archai is what converting straight to Archai YAML gives (stdout).
    const direct = nas(['desc', DESC, '--format', 'archai']);
    expect(direct.code).toBe(0);
    expect(readFileSync(archaiFile, 'utf8')).toBe(direct.stdout);
    // The input file is never overwritten.
    const same = nas(['desc', archaiFile, '--format', 'archai', '--out', archaiFile]);
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/--out .*back\.yaml: that is the input desc file/);
  });

  it("--config reads Archai's config_used.yaml with one warning listing the ignored keys", () => {
    const r = nas(['desc', 'darts_v2', '--config', CONFIG_USED, '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    // Archai's eval network: two stems, 36 channels, CIFAR-10.
    expect(info).toMatchObject({ dataset: 'cifar10', n_cells: 20, init_node_ch: 36, stems: 2 });
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: '));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /config_used\.yaml: read as an Archai profile; tsnas ignores \d+ of its keys/,
    );
    expect(warnings[0]).toContain('common.apex');
  });
});
