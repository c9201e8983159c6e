/** Integer class labels, one per image. */
export type Labels = Uint8Array | Int32Array;

/** A set of 8-bit images in NHWC order with their labels. */
export interface ImageSet {
  /** `count * height * width * channels` bytes, NHWC. */
  images: Uint8Array;
  labels: Labels;
  count: number;
  height: number;
  width: number;
  channels: number;
}

export type Split = 'train' | 'test';

/** Where a dataset's files were found. `generated`: made in memory (synthetic). */
export type DatasetOrigin = 'dataroot' | 'env' | 'cache' | 'system' | 'embedded' | 'generated';

/** One split of a dataset, loaded, with where it came from. */
export interface LoadedSplit extends ImageSet {
  name: string;
  split: Split;
  nClasses: number;
  /** Per-channel normalisation constants for this data. */
  mean: number[];
  std: number[];
  origin: DatasetOrigin;
  /** The folder the files were read from ('' when generated). */
  dir: string;
}

/** Bytes per image of a set. */
export function imageBytes(s: Pick<ImageSet, 'height' | 'width' | 'channels'>): number {
  return s.height * s.width * s.channels;
}
