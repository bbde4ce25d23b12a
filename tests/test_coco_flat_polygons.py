"""The fast path's polygon reader against a plain JSON decode: the same numbers and ring lengths for
every list of lists of numbers, and None for anything else (which the exact path then reports)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from labelport.formats.coco.flat_polygons import polygons

numbers = st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False, width=64))
rings = st.lists(numbers, min_size=1, max_size=12)
segmentation = st.lists(rings, min_size=1, max_size=4)
spacing = st.sampled_from(["", " ", "\n  "])


def as_json(value: Any, space: str) -> bytes:
    text = json.dumps(value, separators=("," + space, ":"))
    return (space + text.replace("[", "[" + space) + space).strip().encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(segmentation, min_size=1, max_size=6), spacing)
def test_the_numbers_and_lengths_of_every_ring(segs: list[list[list[float]]], space: str) -> None:
    read = polygons([as_json(s, space) for s in segs])
    assert read is not None
    values, lengths, per_segmentation = read
    assert values.tolist() == [float(v) for s in segs for ring in s for v in ring]
    assert lengths.tolist() == [len(ring) for s in segs for ring in s]
    assert per_segmentation.tolist() == [len(s) for s in segs]


odd = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=3)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=2),
    max_leaves=8,
)


def is_rings(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(
            isinstance(r, list)
            and len(r) > 0
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r)
            for r in value
        )
    )


@settings(max_examples=500, deadline=None)
@given(st.lists(odd | segmentation, min_size=1, max_size=4))
def test_anything_but_lists_of_number_lists_is_refused(segs: list[Any]) -> None:
    read = polygons([json.dumps(s).encode() for s in segs])
    if all(is_rings(s) for s in segs):
        assert read is not None
        assert read[0].tolist() == [float(v) for s in segs for ring in s for v in ring]
    else:
        assert read is None


def test_shapes_that_count_alike_are_refused() -> None:
    for text in (b"[[1],5]", b"[[1],[2,[3]]]", b"[[[1]],[2]]", b"[[1],2,[3]]", b"[[]]", b"[]", b"[[1],[]]"):
        assert polygons([text]) is None, text
    assert polygons([b"[[1e999,1,1,1,1,1]]"]) is None  # beyond float range, as the typed decode
    raws = msgspec.json.decode(b"[[[1,2,3,4,5,6]], [[7,8,9,10,11,12]]]", type=list[msgspec.Raw])
    assert polygons(raws) is not None  # what a slice's decode hands over
