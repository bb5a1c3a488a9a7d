"""Code generation: graphs to readable Python source of Numba functions.

`source` builds text; `context` is the emission state and the rules every
emitter shares (literals, broadcast indexing, loops); `cpu` emits one `@njit`
step function per program and owns the table of emitters; `emitters`,
`kernels`, `emit_arrays`, `emit_conv` and `emit_pool` fill it with the CPU emitter of each
non-elementwise op (elementwise ops share their scalar `expr` from the op
definition), so this package imports them below; `compile` writes modules into
a content-addressed cache and imports them by name so Numba's `cache=True`
works across processes.
"""

from graphc.codegen import emit_arrays, emit_conv, emit_pool, emitters, kernels  # noqa: F401 (they register)
