export { builtinAlgos } from './builtins.js';
export { buildProgram, main } from './main.js';
export { createReporter, JsonLinesReporter, type Reporter, TerminalReporter } from './progress.js';
