"""viewer: the web viewer over ours-import's project at the same scale (server time, in-process).

Each figure is the best of five requests through the viewer's app (routing, the store's queries,
drawing marks, JSON): the grid's first page; the grid filtered to the most and to the least common
class; the per-class counts (asked for after the page); and one unit's thumbnail with its labels
drawn, the first time (decode a 640x480 JPEG, shrink, cache) and cached. The synthetic file has no
image files, so the thumbnail's unit is given a generated JPEG at a local path (in memory only).
Targets (issue 14): first page and class filter <= 0.2 s; thumbnail <= 0.05 s cached, <= 0.3 s first.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from bench.jobs._common import Phases, emit, fail, parser


def best(work: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return round(min(times), 4)


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    phases = Phases()
    with phases("import_module"):
        import numpy as np
        from PIL import Image

        import labelport
        from labelport.store.base import UnitQuery
        from labelport.viewer.local import create_local_app
        from labelport.viewer.media import MediaRoots, ThumbnailCache
        from labelport.viewer.render import picture

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from starlette.testclient import TestClient
    with phases("open_store"):
        key = Path(args.workdir) / "id_ed25519"
        client = labelport.UserClient.create_with_ssh_private_key(ssh_private_key_path=key)
        found = [p for p in client.list_projects() if p.title == "bench"]
        if len(found) != 1:
            fail(f"expected one project titled 'bench' in the store, found {len(found)}")
        project = client.get_project(found[0].project_hash)
    counts = project.class_counts(UnitQuery())
    common, rare = max(counts, key=counts.__getitem__), min(counts, key=counts.__getitem__)
    base = f"/api/projects/{project.project_hash}"
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="labelport-viewer-bench-") as folder:
        app = create_local_app(client.service, "bench", cache_dir=Path(folder) / "thumbs")
        with TestClient(app) as http:
            http.get("/?token=bench")

            def get(path: str) -> Callable[[], object]:
                def run() -> object:
                    answer = http.get(path)
                    if answer.status_code != 200:
                        fail(f"{path} answered {answer.status_code}: {answer.text[:200]}")
                    return answer

                return run

            figures["grid_first_page_s"] = best(get(f"{base}/units"))
            figures["grid_common_class_s"] = best(get(f"{base}/units?class={common}"))
            figures["grid_rarest_class_s"] = best(get(f"{base}/units?class={rare}"))
            figures["class_counts_s"] = best(get(f"{base}/counts"), repeat=3)
        unit = project.find_data_units(UnitQuery(classes=(common,)), limit=1).units[0]
        jpeg = Path(folder) / "unit.jpg"
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (unit.height, unit.width, 3), np.uint8)).save(jpeg, quality=90)
        unit = dataclasses.replace(unit, location=str(jpeg))
        roots = MediaRoots([folder])
        firsts = []
        for i in range(5):
            cache = ThumbnailCache(Path(folder) / f"first-{i}")
            start = time.perf_counter()
            picture(project, unit, roots=roots, cache=cache)
            firsts.append(time.perf_counter() - start)
        figures["thumbnail_first_s"] = round(min(firsts), 4)
        figures["thumbnail_cached_s"] = best(lambda: picture(project, unit, roots=roots, cache=cache))
    emit(
        figures["grid_first_page_s"],
        phases,
        units=project.find_data_units(UnitQuery(), limit=1).total,
        objects=sum(counts.values()),
        **figures,
    )


if __name__ == "__main__":
    main()
