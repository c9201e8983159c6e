import * as z from 'zod';

// Key names are Archai's (confs/algos/darts.yaml), so an Archai profile reads the same here. Every
// object is loose: keys not listed pass through untouched, so plug-ins can add their own sections
// and validate them with their own schema.

const int = () => z.number().int();
const count = () => int().min(0);
const positive = () => int().min(1);
// Archai writes `decay_bn: .nan` for "same as decay"; zod's number() rejects NaN.
const numberOrNaN = () => z.union([z.number(), z.nan()]);

export const checkpointSchema = z.looseObject({ filename: z.string().min(1), freq: count() }).nullable();

export const datasetSchema = z.looseObject({
  name: z.string().min(1),
  n_classes: positive(),
  channels: positive(),
  /** -1 = no limit; otherwise the loaders stop after this many batches per epoch. */
  max_batches: int().min(-1),
  dataroot: z.string().optional(),
  storage_name: z.string().optional(),
});

export const modelStemsSchema = z.looseObject({
  /** One entry: one stem shared by s0 and s1 (the DARTS paper); two: Archai's two stems. */
  ops: z.array(z.string().min(1)).min(1).max(2),
  stem_multiplier: positive(),
  init_node_ch: positive(),
});

export const cellSchema = z.looseObject({
  n_nodes: positive(),
  cell_post_op: z.string().min(1),
});

export const modelDescSchema = z.looseObject({
  n_reductions: count(),
  n_cells: positive(),
  max_final_edges: positive(),
  model_post_op: z.string().min(1),
  params: z.record(z.string(), z.unknown()).nullable().optional(),
  aux_weight: z.number().min(0),
  aux_tower_stride: positive(),
  model_stems: modelStemsSchema,
  cell: cellSchema,
});

export const loaderSchema = z.looseObject({
  /** A named augmentation policy, a list of them, or '' for none. */
  aug: z.union([z.string(), z.array(z.string())]),
  cutout: count(),
  load_train: z.boolean(),
  train_batch: positive(),
  train_workers: count().optional(),
  load_test: z.boolean(),
  test_batch: positive(),
  val_ratio: z.number().min(0).lt(1),
  val_fold: count().optional(),
  cv_num: positive().optional(),
  dataset: datasetSchema.optional(),
});

export const optimizerSchema = z.looseObject({
  type: z.string().min(1),
  lr: z.number().min(0),
  decay: z.number().min(0),
  momentum: z.number().min(0).optional(),
  nesterov: z.boolean().optional(),
  decay_bn: numberOrNaN().optional(),
  betas: z.tuple([z.number(), z.number()]).optional(),
});

export const warmupSchema = z.looseObject({ multiplier: z.number(), epochs: count() }).nullable();

export const lrScheduleSchema = z
  .looseObject({
    /** 'cosine', or '' for a constant rate. */
    type: z.string(),
    min_lr: z.number().min(0).optional(),
    warmup: warmupSchema.optional(),
  })
  .nullable();

export const validationSchema = z
  .looseObject({
    title: z.string().optional(),
    freq: count(),
    logger_freq: count().optional(),
  })
  .nullable();

export const trainerSchema = z.looseObject({
  title: z.string().optional(),
  epochs: count(),
  batch_chunks: positive(),
  grad_clip: z.number().min(0),
  drop_path_prob: z.number().min(0).lt(1),
  aux_weight: z.number().min(0),
  l1_alphas: z.number().min(0).optional(),
  logger_freq: count().optional(),
  plotsdir: z.string().optional(),
  lossfn: z.looseObject({ type: z.string().min(1) }).optional(),
  optimizer: optimizerSchema,
  alpha_optimizer: optimizerSchema.optional(),
  alpha_lr_schedule: lrScheduleSchema.optional(),
  lr_schedule: lrScheduleSchema,
  validation: validationSchema.optional(),
});

export const searchSchema = z.looseObject({
  finalizer: z.string().min(1).optional(),
  final_desc_filename: z.string().optional(),
  full_desc_filename: z.string().optional(),
  search_iters: positive().optional(),
  /** Archai's SearchCombinations: the search once per (reductions, cells, nodes) up to these. */
  combinations: z
    .looseObject({
      max_reductions: count().optional(),
      max_cells: positive().optional(),
      max_nodes: positive().optional(),
    })
    .nullable()
    .optional(),
  model_desc: modelDescSchema,
  loader: loaderSchema,
  trainer: trainerSchema,
});

export const evalSchema = z.looseObject({
  final_desc_filename: z.string().optional(),
  full_desc_filename: z.string().optional(),
  metric_filename: z.string().optional(),
  model_filename: z.string().optional(),
  model_desc: modelDescSchema,
  loader: loaderSchema,
  trainer: trainerSchema,
  checkpoint: checkpointSchema.optional(),
  resume: z.boolean().optional(),
});

export const commonSchema = z.looseObject({
  seed: int().min(0),
  checkpoint: checkpointSchema,
  resume: z.boolean(),
  logdir: z.string().optional(),
  /** Where trials run: `redis: redis://HOST:PORT` queues them for `nas worker`s; null: in-process. */
  trials: z
    .looseObject({
      redis: z
        .string()
        .regex(/^rediss?:\/\/\S+$/, 'expected a redis://HOST:PORT URL')
        .nullable()
        .optional(),
    })
    .optional(),
  /** TensorFlow's thread pools (backend tensorflow); 0 = auto. */
  tensorflow: z
    .looseObject({ intra_op_threads: count().optional(), inter_op_threads: count().optional() })
    .optional(),
});

/** The keys every tsnas run needs, with Archai's names; anything else passes through. */
export const tsnasProfileSchema = z.looseObject({
  common: commonSchema,
  dataset: datasetSchema,
  nas: z.looseObject({ search: searchSchema, eval: evalSchema }),
});

/**
 * A resolved run profile as the runner reads it: `common`, `dataset` and `nas.search` / `nas.eval`
 * typed; any other key (a plug-in's own section) is `unknown` until the plug-in's schema reads it.
 */
export type TsnasProfile = z.output<typeof tsnasProfileSchema>;
export type CommonSection = z.output<typeof commonSchema>;
export type SearchSection = z.output<typeof searchSchema>;
export type EvalSection = z.output<typeof evalSchema>;
export type TrainerSection = z.output<typeof trainerSchema>;
export type LoaderSection = z.output<typeof loaderSchema>;
export type ModelDescSection = z.output<typeof modelDescSchema>;
