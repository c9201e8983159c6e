# tsnas's native CPU kernels (cpu_kernels.c), built by scripts/build-kernels.mjs; no dependencies
# beyond Node's own headers.
{
  'targets': [
    {
      'target_name': 'tsnas_cpu_kernels',
      'sources': ['cpu_kernels.c'],
      'cflags_c': ['-O3', '-std=gnu11', '-ffp-contract=fast'],
      'defines': ['NAPI_VERSION=8'],
    },
  ],
}
