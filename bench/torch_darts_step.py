"""Reference timing for `pnpm bench`: the DARTS first-order search step in PyTorch.

A DARTS search supernet written for this benchmark (Archai's op definitions: pools without BN,
op BatchNorms not affine, stem BN affine, one stem shared by s0 and s1), NCHW on the CPU. One step
is one architecture step (forward + backward to the alphas on a validation batch, Adam) plus one
weight step (forward + backward on a training batch, gradient clipping at 5, SGD with momentum).
Prints one JSON object. Usage: python3 torch_darts_step.py THREADS [STEPS] [WARMUP] [SIZE]
SIZE is `paper` (16 channels, 8 cells, 32x32x3; default) or `embedded` (the `nas darts` default:
4 channels, 3 cells with one reduction, 28x28x1).
"""

import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRIMITIVES = ['max_pool_3x3', 'avg_pool_3x3', 'skip_connect', 'sep_conv_3x3', 'sep_conv_5x5',
              'dil_conv_3x3', 'dil_conv_5x5', 'none']


class DilConv(nn.Module):
    def __init__(self, c_in, c_out, k, stride, pad, dil, affine):
        super().__init__()
        self.dw = nn.Conv2d(c_in, c_in, k, stride, pad, dilation=dil, groups=c_in, bias=False)
        self.pw = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x):
        return self.bn(self.pw(self.dw(F.relu(x))))


class SepConv(nn.Module):
    def __init__(self, c_in, c_out, k, stride, pad, affine):
        super().__init__()
        self.a = DilConv(c_in, c_in, k, stride, pad, 1, affine)
        self.b = DilConv(c_in, c_out, k, 1, pad, 1, affine)

    def forward(self, x):
        return self.b(self.a(x))


class FactorizedReduce(nn.Module):
    def __init__(self, c_in, c_out, affine):
        super().__init__()
        self.c1 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.c2 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x):
        x = F.relu(x)
        return self.bn(torch.cat([self.c1(x), self.c2(x[:, :, 1:, 1:])], dim=1))


class ReLUConvBN(nn.Module):
    def __init__(self, c_in, c_out, affine):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x):
        return self.bn(self.conv(F.relu(x)))


class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        return x[:, :, ::self.stride, ::self.stride] * 0.0


def make_op(name, c, stride):
    if name == 'max_pool_3x3':
        return nn.MaxPool2d(3, stride, 1)
    if name == 'avg_pool_3x3':
        return nn.AvgPool2d(3, stride, 1, count_include_pad=False)
    if name == 'skip_connect':
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, False)
    if name == 'sep_conv_3x3':
        return SepConv(c, c, 3, stride, 1, False)
    if name == 'sep_conv_5x5':
        return SepConv(c, c, 5, stride, 2, False)
    if name == 'dil_conv_3x3':
        return DilConv(c, c, 3, stride, 2, 2, False)
    if name == 'dil_conv_5x5':
        return DilConv(c, c, 5, stride, 4, 2, False)
    return Zero(stride)


class MixedOp(nn.Module):
    def __init__(self, c, stride):
        super().__init__()
        self.ops = nn.ModuleList([make_op(p, c, stride) for p in PRIMITIVES])

    def forward(self, x, w):
        # `none` contributes zeros; skipping it changes neither the output nor any gradient.
        return sum(wk * op(x) for wk, op, name in zip(w, self.ops, PRIMITIVES) if name != 'none')


class Cell(nn.Module):
    def __init__(self, n_nodes, c_pp, c_p, c, reduction, reduction_prev):
        super().__init__()
        self.reduction = reduction
        self.pre0 = FactorizedReduce(c_pp, c, False) if reduction_prev else ReLUConvBN(c_pp, c, False)
        self.pre1 = ReLUConvBN(c_p, c, False)
        self.n_nodes = n_nodes
        self.edges = nn.ModuleList()
        for i in range(n_nodes):
            for j in range(i + 2):
                self.edges.append(MixedOp(c, 2 if reduction and j < 2 else 1))

    def forward(self, s0, s1, weights):
        states = [self.pre0(s0), self.pre1(s1)]
        k = 0
        for i in range(self.n_nodes):
            s = sum(self.edges[k + j](h, weights[k + j]) for j, h in enumerate(states))
            k += len(states)
            states.append(s)
        return torch.cat(states[-self.n_nodes:], dim=1)


class Network(nn.Module):
    def __init__(self, c=16, n_classes=10, layers=8, n_nodes=4, stem_mult=3, in_ch=3, reductions=None):
        super().__init__()
        c_curr = stem_mult * c
        self.stem = nn.Sequential(nn.Conv2d(in_ch, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        if reductions is None:
            reductions = [layers // 3, 2 * layers // 3]
        c_pp, c_p, c_curr = c_curr, c_curr, c
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in reductions
            if reduction:
                c_curr *= 2
            cell = Cell(n_nodes, c_pp, c_p, c_curr, reduction, reduction_prev)
            reduction_prev = reduction
            self.cells.append(cell)
            c_pp, c_p = c_p, n_nodes * c_curr
        self.classifier = nn.Linear(c_p, n_classes)
        n_edges = sum(i + 2 for i in range(n_nodes))
        self.alphas_normal = nn.Parameter(1e-3 * torch.randn(n_edges, len(PRIMITIVES)))
        self.alphas_reduce = nn.Parameter(1e-3 * torch.randn(n_edges, len(PRIMITIVES)))

    def weights(self):
        return [p for n, p in self.named_parameters() if 'alphas' not in n]

    def arch(self):
        return [self.alphas_normal, self.alphas_reduce]

    def forward(self, x):
        s0 = s1 = self.stem(x)
        wn = F.softmax(self.alphas_normal, dim=-1)
        wr = F.softmax(self.alphas_reduce, dim=-1)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, wr if cell.reduction else wn)
        return self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1))


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    warmup = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    size = sys.argv[4] if len(sys.argv) > 4 else 'paper'
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    batch = 32
    if size == 'embedded':
        model, shape = Network(c=4, layers=3, in_ch=1, reductions=[1]), (1, 28, 28)
    elif size == 'paper':
        model, shape = Network(), (3, 32, 32)
    else:
        sys.exit(f'size: expected paper or embedded, got {size!r}')
    w_opt = torch.optim.SGD(model.weights(), lr=0.025, momentum=0.9, weight_decay=3e-4)
    a_opt = torch.optim.Adam(model.arch(), lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
    x, y = torch.randn(batch, *shape), torch.randint(0, 10, (batch,))
    xv, yv = torch.randn(batch, *shape), torch.randint(0, 10, (batch,))
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        a_opt.zero_grad()
        F.cross_entropy(model(xv), yv).backward(inputs=model.arch())
        a_opt.step()
        w_opt.zero_grad()
        F.cross_entropy(model(x), y).backward(inputs=model.weights())
        nn.utils.clip_grad_norm_(model.weights(), 5.0)
        w_opt.step()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    n_weights = sum(p.numel() for p in model.weights())
    print(json.dumps({
        'threads': threads,
        'size': size,
        'torch': torch.__version__,
        'weights': n_weights,
        'steps': steps,
        'median_ms': statistics.median(times),
        'min_ms': min(times),
    }))


if __name__ == '__main__':
    main()
