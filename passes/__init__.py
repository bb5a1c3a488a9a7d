"""Graph rewrite passes for graphc (installed beside it as the top-level package `passes`).

Each pass is a pure function `Graph -> Graph`; returning the same object means
"no change". The passes and their pipeline arrive with the optimizer; this
package depends on `graphc.ir`, `graphc.ops` and `graphc.reference`, never the
other way round at import time.
"""
