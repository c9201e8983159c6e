import { EMBEDDED_FASHION_MNIST_DIR } from '../embedded.js';
import { CIFAR10_FORMAT, CIFAR100_FORMAT } from '../readers/cifar.js';
import { CifarProvider } from './cifar.js';
import { IdxProvider, MNIST_FILES } from './idx.js';
import { SyntheticProvider } from './synthetic.js';

// Normalisation constants are Archai's (reference §9). Augmentations: CIFAR as Archai (crop 32 pad
// 4 + horizontal flip). Archai's MNIST transforms are RandomAffine (+ vertical flip for Fashion);
// we have no affine warp, so a pad-2 random crop stands in for its ±10% translation, and Fashion
// gets a horizontal flip (garments are left-right symmetric; upside-down ones are not).

export function fashionMnistProvider(): IdxProvider {
  return new IdxProvider({
    name: 'fashion_mnist',
    channels: 1,
    nClasses: 10,
    imageSize: [28, 28],
    mean: [0.28604],
    std: [0.35302],
    trainAug: { crop: 2, hflip: true, vflip: false },
    storage: {
      dirNames: ['fashion-mnist', 'fashion_mnist', 'FashionMNIST/raw'],
      files: MNIST_FILES,
      howToGet:
        'on Debian/Ubuntu `apt-get install dataset-fashion-mnist` (installs /usr/share/datasets/fashion-mnist); or download the four *-ubyte.gz files from https://github.com/zalandoresearch/fashion-mnist (folder data/fashion) into <root>/fashion-mnist.',
      embedded: EMBEDDED_FASHION_MNIST_DIR,
    },
  });
}

export function mnistProvider(): IdxProvider {
  return new IdxProvider({
    name: 'mnist',
    channels: 1,
    nClasses: 10,
    imageSize: [28, 28],
    mean: [0.13066],
    std: [0.30811],
    trainAug: { crop: 2, hflip: false, vflip: false },
    storage: {
      dirNames: ['mnist', 'MNIST/raw'],
      files: MNIST_FILES,
      howToGet:
        'download the four *-ubyte.gz files of http://yann.lecun.com/exdb/mnist/ (mirror: https://ossci-datasets.s3.amazonaws.com/mnist/) into <root>/mnist.',
    },
  });
}

export function cifar10Provider(): CifarProvider {
  return new CifarProvider(
    {
      name: 'cifar10',
      channels: 3,
      nClasses: 10,
      imageSize: [32, 32],
      mean: [0.49139968, 0.48215827, 0.44653124],
      std: [0.24703233, 0.24348505, 0.26158768],
      trainAug: { crop: 4, hflip: true, vflip: false },
      storage: {
        dirNames: ['cifar-10-batches-bin', 'cifar10/cifar-10-batches-bin', 'cifar10'],
        files: {
          train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
          test: ['test_batch.bin'],
        },
        howToGet:
          'download the binary version https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and extract it into <root> (it makes cifar-10-batches-bin/); the Python version (cifar-10-batches-py) is not read.',
      },
    },
    CIFAR10_FORMAT,
  );
}

export function cifar100Provider(): CifarProvider {
  return new CifarProvider(
    {
      name: 'cifar100',
      channels: 3,
      nClasses: 100,
      imageSize: [32, 32],
      mean: [0.507, 0.487, 0.441],
      std: [0.267, 0.256, 0.276],
      trainAug: { crop: 4, hflip: true, vflip: false },
      storage: {
        dirNames: ['cifar-100-binary', 'cifar100/cifar-100-binary', 'cifar100'],
        files: { train: ['train.bin'], test: ['test.bin'] },
        howToGet:
          'download the binary version https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz and extract it into <root> (it makes cifar-100-binary/); the fine labels are used.',
      },
    },
    CIFAR100_FORMAT,
  );
}

export function syntheticProvider(): SyntheticProvider {
  return new SyntheticProvider();
}
