"""Triton type strings (`*fp32`, `i32`) for TTIR types, and back."""
from __future__ import annotations

from .ttir import Function, PtrType, ScalarType, Type

_TO_TRITON = {"i1": "i1", "i8": "i8", "i16": "i16", "i32": "i32", "i64": "i64",
              "f16": "fp16", "bf16": "bf16", "f32": "fp32", "f64": "fp64",
              "f8E4M3FN": "fp8e4nv", "f8E5M2": "fp8e5"}
_FROM_TRITON = {v: k for k, v in _TO_TRITON.items()}
_FROM_TRITON.update({"u1": "i1", "u8": "i8", "u16": "i16", "u32": "i32", "u64": "i64",
                     "int1": "i1", "fp8e4b15": "i8", "fp8e4b8": "i8", "fp8e5b16": "i8"})


def triton_type(t: Type) -> str:
    """`!tt.ptr<f32>` -> `*fp32`, `i32` -> `i32`."""
    if isinstance(t, PtrType):
        return "*" + triton_type(t.pointee)
    if isinstance(t, ScalarType):
        return _TO_TRITON[t.name]
    raise ValueError(f"no Triton type string for {t}")


def mlir_scalar(ty: str) -> str:
    """`fp32` -> `f32`, `u8` -> `i8`, `*fp32` -> `f32` (the pointee)."""
    return _FROM_TRITON[ty.lstrip("*")]


def signature_of(fn: Function) -> dict:
    """The Triton signature dict of a parsed `tt.func`."""
    return {a.value.name.lstrip("%"): triton_type(a.value.type) for a in fn.args}
