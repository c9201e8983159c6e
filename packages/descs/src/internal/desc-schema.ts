// Internal: the on-disk shape of a model desc (snake_case, Archai's names) and its zod schema.
// Not exported from the package; use serialize.ts.
import { z } from 'zod';

export const DESC_FORMAT = 'tsnas/model-desc';
export const DESC_VERSION = 1;

export interface ConvPlain {
  ch_in: number;
  ch_out: number;
}

export interface TrainablesPlain {
  name: string;
  weights: Record<string, { shape: number[]; data: number[] }>;
}

export interface OpDescPlain {
  name: string;
  params: Record<string, unknown>;
  in_len: number;
  trainables?: TrainablesPlain;
  children?: OpDescPlain[];
  children_ins?: number[];
}

export interface EdgeDescPlain {
  op_desc: OpDescPlain;
  input_ids: number[];
}

export interface NodeDescPlain {
  conv_params: ConvPlain;
  edges: EdgeDescPlain[];
}

export interface CellDescPlain {
  id: number;
  cell_type: string;
  trainables_from: number;
  conf_cell: Record<string, unknown>;
  stems: OpDescPlain[];
  stem_shapes: number[][];
  nodes: NodeDescPlain[];
  node_shapes: number[][];
  post_op: OpDescPlain;
  out_shape: number[];
}

export interface AuxTowerDescPlain {
  ch_in: number;
  n_classes: number;
  stride: number;
}

export interface ModelDescPlain {
  format: string;
  version: number;
  conf_model_desc: Record<string, unknown>;
  model_stems: OpDescPlain[];
  cells: CellDescPlain[];
  aux_tower_descs: (AuxTowerDescPlain | null)[];
  pool_op: OpDescPlain;
  logits_op: OpDescPlain;
}

const count = z.int().min(0);
const positive = z.int().min(1);
const shape = z.array(z.number());

const convSchema = z.strictObject({ ch_in: count, ch_out: count });

const trainablesSchema = z.strictObject({
  name: z.string(),
  weights: z.record(z.string(), z.strictObject({ shape: z.array(count), data: z.array(z.number()) })),
});

// `conv` is the one param with a type of its own (ConvMacroParams); the rest is op-specific data.
const paramsSchema = z.looseObject({ conv: convSchema.optional() });

export const opDescSchema: z.ZodType<OpDescPlain> = z.lazy(() =>
  z.strictObject({
    name: z.string().min(1),
    params: paramsSchema,
    in_len: count,
    trainables: trainablesSchema.optional(),
    children: z.array(opDescSchema).optional(),
    children_ins: z.array(count).optional(),
  }),
);

const edgeSchema = z.strictObject({ op_desc: opDescSchema, input_ids: z.array(count) });

const nodeSchema = z.strictObject({ conv_params: convSchema, edges: z.array(edgeSchema) });

const confCellSchema = z.looseObject({ n_nodes: count, cell_post_op: z.string() });

const cellSchema = z.strictObject({
  id: z.int(),
  // Checked by value in the semantic pass, so the message can list the known types.
  cell_type: z.string(),
  trainables_from: count,
  conf_cell: confCellSchema,
  stems: z.array(opDescSchema),
  stem_shapes: z.array(shape),
  nodes: z.array(nodeSchema),
  node_shapes: z.array(shape),
  post_op: opDescSchema,
  out_shape: shape,
});

const auxTowerSchema = z.strictObject({ ch_in: positive, n_classes: positive, stride: positive });

const confModelDescSchema = z.looseObject({
  dataset: z.looseObject({ channels: positive, n_classes: positive }),
  n_reductions: count,
  n_cells: count,
  max_final_edges: count,
  model_post_op: z.string(),
  params: z.record(z.string(), z.unknown()).optional(),
  aux_weight: z.number(),
  aux_tower_stride: count,
  model_stems: z.looseObject({ ops: z.array(z.string()), stem_multiplier: positive, init_node_ch: positive }),
  cell: confCellSchema,
});

export const modelDescSchema = z.strictObject({
  format: z.string(),
  version: z.int(),
  conf_model_desc: confModelDescSchema,
  model_stems: z.array(opDescSchema),
  cells: z.array(cellSchema),
  aux_tower_descs: z.array(auxTowerSchema.nullable()),
  pool_op: opDescSchema,
  logits_op: opDescSchema,
});
