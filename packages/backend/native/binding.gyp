# The small addons built next to tfjs-node's binding by scripts/setup-tensorflow.mjs; deps/ is a
# link to the libraries and headers extracted from the TensorFlow wheel.
{
  'targets': [
    {
      'target_name': 'tsnas_tf_devices',
      'sources': ['tf_devices.c'],
      'include_dirs': ['<(module_root_dir)/deps/include'],
      'libraries': ['-Wl,-rpath,\$$ORIGIN/../../deps/lib', '-ltensorflow', '-ltensorflow_framework'],
      'library_dirs': ['<(module_root_dir)/deps/lib'],
      'defines': ['NAPI_VERSION=8'],
    },
    {
      # No libtensorflow: loading it must print nothing.
      'target_name': 'tsnas_stderr',
      'sources': ['stderr.c'],
      'defines': ['NAPI_VERSION=8'],
    },
  ],
}
