export { alignLines, type ChartSeries, type ChartSpec } from './charts.js';
export { ReportError } from './errors.js';
export {
  type AlphaSnapshot,
  type EpochPoint,
  type Experiment,
  type PhaseCurves,
  type RandomSample,
  readExperiment,
  type StepPoint,
} from './read.js';
export { meanStd, renderReport, settledEpoch } from './render.js';
export { type WrittenReport, writeReport } from './write.js';
