// A three-file profile with the defaults of Archai's confs/algos/darts.yaml (reference §2.5),
// laid out the way tsnas's configs/ are: algos/darts.yaml includes base.yaml and a dataset.

export const BASE_YAML = `common:
  logdir: '~/logdir'
  seed: 2.0
  checkpoint:
    filename: '$expdir/checkpoint.json'
    freq: 10
  resume: true
  apex:
    enabled: false
    seed: '_copy: /common/seed'

dataset: {}

nas:
  eval:
    full_desc_filename: '$expdir/full_model_desc.yaml'
    final_desc_filename: '$expdir/final_model_desc.yaml'
    model_desc:
      n_reductions: 2
      n_cells: 20
      max_final_edges: 2
      model_post_op: 'pool_adaptive_avg2d'
      params: {}
      aux_weight: '_copy: /nas/eval/trainer/aux_weight'
      aux_tower_stride: 3
      model_stems:
        ops: ['stem_conv3x3', 'stem_conv3x3']
        init_node_ch: 36
        stem_multiplier: 3
      cell:
        n_nodes: 4
        cell_post_op: 'concate_channels'
    loader:
      aug: ''
      cutout: 16
      load_train: true
      train_batch: 96
      train_workers: 4
      load_test: true
      test_batch: 1024
      val_ratio: 0.0
      dataset:
        _copy: '/dataset'
    trainer:
      title: 'eval_train'
      epochs: 600
      drop_path_prob: 0.2
      grad_clip: 5.0
      aux_weight: 0.4
      batch_chunks: 1
      logger_freq: 1000
      optimizer:
        type: 'sgd'
        lr: 0.025
        decay: 3.0e-4
        momentum: 0.9
        nesterov: false
        decay_bn: .nan
      lr_schedule:
        type: 'cosine'
        min_lr: 0.001
        warmup:
          multiplier: 1
          epochs: 0
      validation:
        title: 'eval_test'
        freq: 1
    checkpoint:
      _copy: '/common/checkpoint'
    resume: '_copy: /common/resume'
  search:
    finalizer: 'default'
    final_desc_filename: '$expdir/final_model_desc.yaml'
    search_iters: 1
    model_desc:
      _copy: '/nas/eval/model_desc'
      n_cells: 8
      aux_weight: 0.0
      model_stems:
        init_node_ch: 16
    loader:
      _copy: '/nas/eval/loader'
      cutout: 0
      train_batch: 64
      load_test: false
      val_ratio: 0.5
    trainer:
      _copy: '/nas/eval/trainer'
      title: 'arch_train'
      epochs: 50
      drop_path_prob: 0.0
      aux_weight: '_copy: ../../model_desc/aux_weight'
      alpha_optimizer:
        type: 'adam'
        lr: 3.0e-4
        decay: 1.0e-3
        betas: [0.5, 0.999]
      lr_schedule:
        warmup: null
      validation:
        title: 'search_val'
        logger_freq: 0
`;

export const FASHION_MNIST_YAML = `dataset:
  name: 'fashion_mnist'
  n_classes: 10
  channels: 1
  max_batches: -1
  dataroot: '$default_dataroot'
`;

export const DARTS_YAML = `__include__: ['../base.yaml', '../datasets/fashion_mnist.yaml']
nas:
  search:
    trainer:
      epochs: 50
`;

export const PROFILE_FILES = {
  'configs/base.yaml': BASE_YAML,
  'configs/datasets/fashion_mnist.yaml': FASHION_MNIST_YAML,
  'configs/algos/darts.yaml': DARTS_YAML,
};
