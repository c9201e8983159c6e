#!/usr/bin/env python3
"""Checks exported .onnx files with the ONNX project's own checker and shape inference.

Usage: python3 packages/onnx/scripts/check-onnx.py FILE.onnx [FILE.onnx ...]
Needs the `onnx` Python package (Debian: apt install python3-onnx, then run it with /usr/bin/python3).
Not part of the test suite, which needs no Python.
"""
import sys

import onnx
from onnx import checker, shape_inference


def dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    failed = 0
    for path in paths:
        try:
            model = onnx.load(path)
            checker.check_model(model, full_check=True)
            inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
            out = inferred.graph.output[0]
            ops = sorted({n.op_type for n in model.graph.node})
            print(
                f"{path}: OK (onnx {onnx.__version__} checker, full_check; IR {model.ir_version}, "
                f"opset {model.opset_import[0].version}; {len(model.graph.node)} nodes: {', '.join(ops)}; "
                f"input {dims(model.graph.input[0])} -> {out.name} {dims(out)})"
            )
        except Exception as e:  # noqa: BLE001 - report every file, then fail
            failed += 1
            print(f"{path}: FAILED: {e}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
