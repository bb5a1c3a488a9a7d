"""Pieces of the emitted text, on edge cases the tests of whole programs do not reach."""

from graphc.codegen.cpu import broadcast_index, stretched_axes


def test_broadcast_index_drops_missing_axes_and_reads_stretched_ones_at_zero():
    out = (None, 4, 3)
    assert broadcast_index((None, 4, 3), ["i0", "i1", "i2"], out) == ["i0", "i1", "i2"]
    assert broadcast_index((3,), ["i0", "i1", "i2"], out) == ["i2"]
    assert broadcast_index((4, 1), ["i0", "i1", "i2"], out) == ["i1", "0"]
    assert broadcast_index((1, 4, 3), ["i0", "i1", "i2"], out) == ["0", "i1", "i2"]
    assert broadcast_index((1,), ["i0"], (1,)) == ["i0"]  # not stretched: its own index
    assert broadcast_index((), ["i0", "i1"], (2, 2)) == []


def test_stretched_axes_are_the_ones_broadcasting_adds_or_stretches():
    assert stretched_axes((None, 4, 3), (None, 4, 3)) == ()
    assert stretched_axes((3,), (None, 4, 3)) == (0, 1)
    assert stretched_axes((4, 1), (None, 4, 3)) == (0, 2)
    assert stretched_axes((1, 1), (None, 1)) == (0,)  # size 1 onto unknown: stretched
