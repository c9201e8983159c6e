// `pnpm lint:deps` (part of `pnpm test`): no import circles between files, type-only imports
// included, and no package reaching into another's files: packages import each other by name,
// through the `exports` map (DESIGN.md "Layout").
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A file that imports itself through others: move what both need into a module of its own.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-package-internals',
      severity: 'error',
      comment: "A relative import into another package's files: import the package by name instead.",
      from: { path: '^(packages|algos|examples)/([^/]+)/' },
      to: { dependencyTypes: ['local'], path: '^(packages|algos|examples)/', pathNot: '^$1/$2/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules|\\.turbo)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['@tsnas/source', 'import', 'types', 'default'],
      extensions: ['.ts', '.mts', '.js', '.mjs', '.d.ts', '.d.mts'],
    },
  },
};
