"""Code generation: graphs to readable Python source of Numba functions.

`source` builds text; `cpu` emits one `@njit` step function per program;
`emitters` holds the CPU emitter of each non-elementwise op (elementwise ops
share their scalar `expr` from the op definition); `compile` writes modules
into a content-addressed cache and imports them by name so Numba's
`cache=True` works across processes.
"""
