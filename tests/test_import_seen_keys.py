"""SeenKeys against the plain dict it replaces: the same repeats, with the same first positions, for
any slices of keys (small or not, new or seen, with or without gaps in their positions)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from labelport.imports.seen_keys import SMALL, SeenKeys

keys = st.one_of(st.integers(0, 40), st.integers(0, SMALL + 5), st.integers(-(2**63), 2**63 - 1))
slices = st.lists(st.tuples(st.lists(keys, max_size=12), st.booleans()), max_size=8)


@settings(max_examples=400, deadline=None)
@given(slices)
def test_the_same_repeats_as_a_dict(parts: list[tuple[list[int], bool]]) -> None:
    seen, first = SeenKeys(), {}
    start = 0
    for chunk, gaps in parts:
        offsets = [2 * i for i in range(len(chunk))] if gaps else None
        expected = []
        for i, key in enumerate(chunk):
            here = start + (i if offsets is None else offsets[i])
            at = first.setdefault(key, here)
            if at != here:
                expected.append((i, at))
        assert seen.repeats(chunk, start, offsets) == expected
        start += 2 * len(chunk) + 1


def test_a_train_sized_file_of_new_keys_stays_in_the_array() -> None:
    seen = SeenKeys()
    for start in range(0, 200_000, 20_000):
        assert seen.repeats(list(range(start + 1, start + 20_001)), start) == []
    assert seen._first is None  # no dict was needed
    assert seen.repeats([5], 200_000) == [(0, 4)]
