"""The benchmark's input files: make_coco.py at each scale, cached in ``bench/.cache`` between runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.tile import tile

REPO = Path(__file__).resolve().parents[1]
MAKE_COCO = REPO.parent / "shared" / "tools" / "make_coco.py"
MAKE_PREDS = REPO.parent / "shared" / "tools" / "make_preds.py"
DEFAULT_CACHE = REPO / "bench" / ".cache"


@dataclass(frozen=True)
class Scale:
    """A fraction of COCO train2017, named, and the number of images make_coco.py is asked for."""

    name: str
    images: int
    #: a scale made by repeating the ``base`` scale's file this many times (:mod:`bench.tile`)
    tiles: int = 1
    base: str = ""

    @property
    def slug(self) -> str:
        return self.name.replace("/", "-").replace(" ", "-")


SCALES: dict[str, Scale] = {
    s.name: s for s in (Scale("1/8", 15_000), Scale("1/2", 60_000), Scale("full", 120_000))
}
#: Scales run only when named (``--scales 10x --jobs ours-import``): the other tools need more
#: memory than the machine has at ten times train2017, and the import alone takes minutes.
LARGE: dict[str, Scale] = {s.name: s for s in (Scale("10x", 1_200_000, tiles=10, base="full"),)}


@dataclass(frozen=True)
class Dataset:
    """One generated COCO file and its counts."""

    scale: Scale
    path: Path
    images: int
    annotations: int
    mib: float


def parse_scales(text: str) -> list[Scale]:
    """``"1/8,full"`` -> those scales, in the order of :data:`SCALES`; ``"all"`` -> all three."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(SCALES.values())
    known = {**SCALES, **LARGE}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown scale {unknown[0]!r}; choose from {', '.join(known)} or all")
    return [s for s in known.values() if s.name in names]


def generate(scale: Scale, path: Path, timeout_s: float) -> None:
    """Write ``path`` with make_coco.py (deterministic: its default seed)."""
    if not MAKE_COCO.is_file():
        raise FileNotFoundError(f"{MAKE_COCO} is missing: the benchmark needs ../shared beside the repo")
    tmp = path.with_name(path.name + ".partial")
    print(
        f"generating {path.name} ({scale.images:,} images) with {MAKE_COCO} ...", file=sys.stderr, flush=True
    )
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(MAKE_COCO), str(tmp), "--images", str(scale.images)],
        check=True,
        timeout=timeout_s,
    )
    tmp.replace(path)
    print(f"  done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)


def count(path: Path) -> dict[str, int]:
    """Images and annotations in a COCO file, counted in a child process (keeps the harness small)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.jobs.count", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts: dict[str, int] = json.loads(out.strip().splitlines()[-1])
    return counts


def ensure(scale: Scale, cache: Path, timeout_s: float) -> Dataset:
    """The cached file for ``scale`` (generated when absent) and its counts (kept in a ``.meta.json``)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"coco_{scale.images}.json"
    meta_path = cache / f"coco_{scale.images}.meta.json"
    if scale.tiles > 1 and not path.exists():
        base = ensure(SCALES[scale.base], cache, timeout_s)
        print(f"writing {path.name}: {base.path.name} {scale.tiles} times ...", file=sys.stderr, flush=True)
        images, annotations = tile(base.path, path, scale.tiles)
        stat = path.stat()  # counted as written: decoding the whole file to count it would not fit
        meta_path.write_text(
            json.dumps(
                {
                    "bytes": stat.st_size,
                    "mtime_ns": stat.st_mtime_ns,
                    "images": images,
                    "annotations": annotations,
                }
            )
        )
    if not path.exists():
        generate(scale, path, timeout_s)
    stat = path.stat()
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if meta.get("bytes") != stat.st_size or meta.get("mtime_ns") != stat.st_mtime_ns:
        meta = {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, **count(path)}
        meta_path.write_text(json.dumps(meta))
    return Dataset(scale, path, meta["images"], meta["annotations"], round(stat.st_size / 2**20, 1))


def warm(path: Path) -> None:
    """Read the file once so every job finds it in the page cache, not only the ones after the first."""
    with path.open("rb") as f:
        while f.read(16 * 2**20):
            pass


def preds_path(data: Dataset) -> Path:
    """Where the scale's detections (make_preds.py of its file) are cached."""
    return data.path.with_name(data.path.stem + ".preds.json")


def ensure_preds(data: Dataset, timeout_s: float) -> Path:
    """The scale's detections, written by make_preds.py (its default seed) when absent or older than the file."""
    path = preds_path(data)
    if path.exists() and path.stat().st_mtime_ns >= data.path.stat().st_mtime_ns:
        return path
    if not MAKE_PREDS.is_file():
        raise FileNotFoundError(f"{MAKE_PREDS} is missing: the benchmark needs ../shared beside the repo")
    print(f"writing {path.name} with {MAKE_PREDS} ...", file=sys.stderr, flush=True)
    tmp = path.with_name(path.name + ".partial")
    subprocess.run([sys.executable, str(MAKE_PREDS), str(data.path), str(tmp)], check=True, timeout=timeout_s)
    tmp.replace(path)
    return path
