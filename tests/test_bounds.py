"""Inputs that would exhaust memory or time are refused early, in one sentence naming the place, with
the process's memory flat: each bound is tried on a real process (the CLI, a viewer, a server) and
its peak RSS read from the kernel, against the same process on a harmless input."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from labelport import UserClient
from labelport.errors import FieldError, FormatError, ImageError
from labelport.limits import MAX_AREA_RANGES, MAX_IMAGE_PIXELS, MAX_IOU_THRESHOLDS, MAX_MAX_DETS
from labelport.pixels import header_size, open_image
from test_server import closing, team  # noqa: F401  (the server fixtures: PostgreSQL, uvicorn)

pytest_plugins = ["pg"]

#: What a hostile input may cost a process above the same process on a harmless one.
BUDGET_MIB = 1024
#: the source the measured processes run (another checkout's, to see a test fail before its fix)
SRC = Path(os.environ.get("LABELPORT_MEASURED_SRC") or Path(__file__).resolve().parents[1] / "src")


# -- real processes and their peak memory ----------------------------------------------------------


def run_measured(args: list[str], tmp: Path, env: dict[str, str] | None = None) -> tuple[int, str, int]:
    """(exit status, output, peak RSS in MiB) of ``python -c 'labelport.cli.main()' args``."""
    out = tmp / f"out-{time.monotonic_ns()}.txt"
    environ = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", "from labelport.cli import main; main()", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environ,
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, out.read_text(), usage.ru_maxrss // 1024


def peak_mib(pid: int) -> int:
    """A live process's peak RSS (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


# -- images: a large PNG written small ---------------------------------------------------------------


def flat_png(path: Path, width: int, height: int, *, alpha: bool = False) -> Path:
    """A one-colour PNG of any size, written a row at a time (a 12,000 x 12,000 one is 2 MB on disk)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    squeeze = zlib.compressobj(1)
    row = b"\0" + b"\x80" * (width * (4 if alpha else 3))
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header))
        out.write(
            chunk(b"IDAT", b"".join([*(squeeze.compress(row) for _ in range(height)), squeeze.flush()]))
        )
        out.write(chunk(b"IEND", b""))
    return path


def commented_jpeg(path: Path) -> Path:
    """A JPEG with a comment of the largest size a JPEG segment holds (65,533 bytes), which Pillow
    itself cannot write: the COM segment is put in by hand after the start-of-image marker."""
    plain = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(plain, "JPEG")
    data = plain.getvalue()
    comment = b"\xff\xfe" + struct.pack(">H", 0xFFFF) + b"c" * 0xFFFD
    path.write_bytes(data[:2] + comment + data[2:])
    return path


def test_images_decode_reduced_and_refuse_over_the_pixel_limit(tmp_path: Path) -> None:
    big = flat_png(tmp_path / "big.png", 12_000, 12_000)
    assert header_size(big) == (12_000, 12_000)
    small = open_image(big, side=320)
    assert small.size == (320, 320) and small.mode == "RGB"
    huge = flat_png(tmp_path / "huge.png", 20_000, 20_000)
    assert header_size(huge) == (20_000, 20_000)  # its size is read, never its pixels
    with pytest.raises(ImageError) as caught:
        open_image(huge, side=320)
    assert caught.value.code == "image_pixels" and caught.value.file == "huge.png"
    assert str(caught.value) == (
        f"huge.png: labelport decodes images of at most {MAX_IMAGE_PIXELS:,} pixels (about 13,400 x "
        "13,400, Pillow's decompression-bomb limit), and this one is 20,000 x 20,000."
    )
    with pytest.raises(ImageError) as unreadable:
        open_image(tmp_path.joinpath("not.png").write_bytes(b"plain text") and tmp_path / "not.png")
    assert unreadable.value.code == "image_unreadable" and unreadable.value.file == "not.png"
    # a JPEG far over the limit is decoded already reduced (DCT scaling), never at its own size
    jpeg = io.BytesIO()
    Image.new("L", (4000, 3000), 90).save(jpeg, "JPEG")
    assert open_image(jpeg, side=500, name="a.jpg").size == (500, 375)
    # no metadata of the original comes along
    assert open_image(commented_jpeg(tmp_path / "c.jpg"), side=32).info == {}


def _project_with_image(client: UserClient, image: Path) -> str:
    project = client.create_project("pictures")
    project.add_images([str(image)])
    client.service.store.close()  # type: ignore[attr-defined]
    return project.project_hash


def test_render_of_a_12000_pixel_png_keeps_memory_flat(
    tmp_path: Path, home: Path, key_path: Path, client: UserClient
) -> None:
    big = flat_png(tmp_path / "big.png", 12_000, 12_000)
    project_hash = _project_with_image(client, big)
    small = tmp_path / "small.png"
    Image.new("RGB", (200, 100), "blue").save(small)
    base = ["--home", str(home), "--key", str(key_path)]
    # the harmless run: a small image of another project
    other = UserClient.create_with_ssh_private_key(ssh_private_key_path=key_path)
    small_hash = _project_with_image(other, small)
    status, output, idle = run_measured(
        [*base, "render", small_hash, "--title", "small.png", "-o", str(tmp_path / "s.png")], tmp_path
    )
    assert status == 0, output
    status, output, peak = run_measured(
        [*base, "render", project_hash, "--title", "big.png", "-o", str(tmp_path / "b.png")], tmp_path
    )
    assert status == 0, output
    assert peak - idle < BUDGET_MIB, (idle, peak)
    with Image.open(tmp_path / "b.png") as drawn:
        assert max(drawn.size) == 4096  # drawn scaled down to the render side
    huge = flat_png(tmp_path / "huge.png", 20_000, 20_000)
    huge_hash = _project_with_image(
        UserClient.create_with_ssh_private_key(ssh_private_key_path=key_path), huge
    )
    status, output, peak = run_measured(
        [*base, "render", huge_hash, "--title", "huge.png", "-o", str(tmp_path / "h.png")], tmp_path
    )
    assert status == 0 and "huge.png: labelport decodes images of at most" in output, output
    assert peak - idle < BUDGET_MIB


def _viewer(home: Path, key_path: Path, project_hash: str, media: Path) -> tuple[subprocess.Popen[str], str]:
    from browser import free_port

    port = free_port()
    command = [sys.executable, "-c", "from labelport.cli import main; main()", "--home", str(home)]
    command += ["--key", str(key_path), "view", project_hash, "--port", str(port), "--media-root", str(media)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert process.stdout is not None
    address = process.stdout.readline().split(" at ", 1)[1].strip()
    return process, address


def test_viewer_thumbnails_of_a_large_png_and_a_commented_jpeg(
    tmp_path: Path, home: Path, key_path: Path, client: UserClient
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    project = client.create_project("thumbs")
    project.add_images(
        [str(flat_png(media / "big.png", 12_000, 12_000)), str(commented_jpeg(media / "c.jpg"))]
    )
    project.add_images([str(Image.new("RGB", (90, 60)).save(media / "s.png") or media / "s.png")])
    units = {u.title: u.data_hash for u in project.list_data_units()}
    client.service.store.close()  # type: ignore[attr-defined]
    process, address = _viewer(home, key_path, project.project_hash, media)
    try:
        base = address.split("/projects/", 1)[0]
        with httpx.Client(timeout=60) as http:
            deadline = time.time() + 20
            while True:
                try:
                    http.get(address, follow_redirects=True)
                    break
                except httpx.ConnectError:
                    assert time.time() < deadline
                    time.sleep(0.1)

            def thumb(title: str, labels: str = "0") -> httpx.Response:
                url = f"{base}/thumbs/{project.project_hash}/{units[title]}?labels={labels}"
                return http.get(url)

            assert thumb("s.png").status_code == 200
            idle = peak_mib(process.pid)
            for labels in ("0", "1"):
                answer = thumb("c.jpg", labels)
                assert answer.status_code == 200, answer.text
                with Image.open(io.BytesIO(answer.content)) as made:
                    assert "comment" not in made.info and made.size[0] <= 320
            assert thumb("big.png").status_code == 200
            (media / "big.png").touch()  # a new modification time: made again, not read from the cache
            assert thumb("big.png", "1").status_code == 200
            assert peak_mib(process.pid) - idle < BUDGET_MIB
    finally:
        process.terminate()
        process.communicate(timeout=20)


# -- evaluation parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "most", "value"),
    [
        ("max_dets", MAX_MAX_DETS, list(range(1, 10_001))),
        ("iou_thresholds", MAX_IOU_THRESHOLDS, [0.5] * 20_000),
        ("area_ranges", MAX_AREA_RANGES, [[0, 1e10]] * 10_000),
        ("keypoint_sigmas", 1000, [0.1] * 1001),
        ("categories", 10_000, ["x"] * 10_001),
    ],
)
def test_each_list_of_the_evaluation_parameters_is_bounded(field: str, most: int, value: list[Any]) -> None:
    from labelport.evaluation.params import Params

    with pytest.raises(FieldError) as caught:
        Params.make("bbox", **{field: value})
    assert caught.value.field == field
    assert str(caught.value) == (
        f"{field}: at most {most:,} values are taken, and this list has {len(value):,}."
    )
    Params.make(
        "bbox", **{field: value[:most]}
    ) if field != "categories" else None  # the bound itself is taken


def test_a_viewer_sending_huge_parameter_lists_gets_one_sentence_and_flat_memory(
    team: Any,  # noqa: F811
    closing: list[UserClient],  # noqa: F811
) -> None:
    from evaluation_helpers import project_with
    from test_evaluation_faces import _small

    owner = team.client("bounds-lead")
    viewer_key, viewer_identity, _ = team.user("bounds-viewer")
    viewer = UserClient.create_with_ssh_private_key(ssh_private_key_path=viewer_key, domain=team.server.url)
    closing.extend([owner, viewer])
    gt, results = _small()
    project = project_with(owner, gt, results, title="bounded-eval")
    project.service.add_member(project.project_hash, viewer_identity.fingerprint, "viewer")
    seen = viewer.get_project(project.project_hash)
    seen.evaluate("pred")
    idle = peak_mib(team.server.process.pid)
    cases = {
        "max_dets": list(range(1, 10_001)),
        "area_ranges": [[0, 1e10]] * 10_000,
        "iou_thresholds": [0.5] * 20_000,
    }
    for field, value in cases.items():
        with pytest.raises(FieldError) as caught:
            seen.service.evaluate(project.project_hash, "pred", {field: value})
        assert caught.value.status == 400 and caught.value.field == field
        assert f"{field}: at most " in str(caught.value)
    assert peak_mib(team.server.process.pid) - idle < 64


def test_eval_limit_must_not_be_negative(client: UserClient, home: Path, key_path: Path) -> None:
    from click.testing import CliRunner

    from evaluation_helpers import project_with
    from labelport.cli import cli
    from test_evaluation_faces import _small

    project = project_with(client, *_small())
    args = ["--home", str(home), "--key", str(key_path), "eval", project.project_hash, "--pred", "pred"]
    bad = CliRunner().invoke(cli, [*args, "--errors", "fp", "--limit", "-5"])
    assert bad.exit_code == 2 and "Invalid value for '--limit': -5 is not in the range x>=0." in bad.output
    with pytest.raises(FieldError) as caught:
        project.evaluate("pred").errors("fp", limit=-5)
    assert str(caught.value) == "limit: how many errors to list is a whole number, 0 or more, not -5."


# -- YOLO: key points and label lines ----------------------------------------------------------------


def _yolo(root: Path, yaml: str, label: bytes) -> Path:
    """A one-image YOLO dataset: data.yaml, images/train/a.png (40 x 30) and labels/train/a.txt."""
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "data.yaml").write_text(yaml)
    Image.new("RGB", (40, 30)).save(root / "images" / "train" / "a.png")
    (root / "labels" / "train" / "a.txt").write_bytes(label)
    return root


GOOD_LINE = b"0 0.5 0.5 0.2 0.2\n"
DETECT = "names: [cat]\ntask: detect\n"


@pytest.mark.parametrize(
    ("yaml", "label", "code", "where", "sentence"),
    [
        (
            "names: [cat]\nkpt_shape: [1000000000, 3]\n",
            GOOD_LINE,
            "yolo_kpt_shape",
            "data.yaml kpt_shape",
            "kpt_shape is [keypoints, 2 or 3] with 1 to 1,000 keypoints, not [1000000000, 3].",
        ),
        (
            "names: [cat]\nkpt_shape: [0, 3]\n",
            GOOD_LINE,
            "yolo_kpt_shape",
            "data.yaml kpt_shape",
            "kpt_shape is [keypoints, 2 or 3] with 1 to 1,000 keypoints, not [0, 3].",
        ),
        (
            DETECT,
            GOOD_LINE + b"0" + b" 0.5" * 400_000 + b"\n",
            "yolo_fields",
            "a.txt line 2",
            "a line holds a class and 4 numbers (cx cy w h); this one has more than 100,000 numbers.",
        ),
        (
            "names: [cat]\n",
            GOOD_LINE + b"0" + b" 0.5" * 400_000 + b"\n",
            "yolo_fields",
            "a.txt line 2",
            "a line holds a class and at most 100,000 numbers; this one has more than 100,000 numbers.",
        ),
        (
            DETECT,
            GOOD_LINE * 2 + b"0" + b" " * (5 << 20) + b"\n",
            "yolo_file",
            "a.txt line 3",
            "a line is at most 4 MiB; this one is longer.",
        ),
        (DETECT, GOOD_LINE + b"0 \xff 0.5\n", "yolo_file", "a.txt line 2", "holds bytes that are not UTF-8"),
    ],
)
def test_yolo_bounds_are_one_sentence_with_memory_flat(
    tmp_path: Path, yaml: str, label: bytes, code: str, where: str, sentence: str
) -> None:
    from labelport.formats.yolo.read import read_yolo

    good = _yolo(tmp_path / "good", DETECT, GOOD_LINE)
    status, output, idle = run_measured(
        ["convert", str(good), str(tmp_path / "g.json"), "--from", "yolo", "--to", "coco"], tmp_path
    )
    assert status == 0, output
    bad = _yolo(tmp_path / "bad", yaml, label)
    with pytest.raises(FormatError) as caught:
        read_yolo(bad)
    assert caught.value.code == code and sentence in caught.value.detail
    status, output, peak = run_measured(
        ["convert", str(bad), str(tmp_path / "b.json"), "--from", "yolo", "--to", "coco"], tmp_path
    )
    assert status == 1 and f"{where}: {sentence}" in output, output
    assert not (tmp_path / "b.json").exists()
    assert peak - idle < BUDGET_MIB


def test_a_yolo_label_file_over_the_cap_is_refused_unread(tmp_path: Path) -> None:
    from labelport.formats.yolo.read import read_yolo
    from labelport.limits import MAX_LABEL_FILE_BYTES

    bad = _yolo(tmp_path / "bad", DETECT, GOOD_LINE)
    with (bad / "labels" / "train" / "a.txt").open("r+b") as sparse:  # no disk, no time to write
        sparse.truncate(MAX_LABEL_FILE_BYTES + 1)
    with pytest.raises(FormatError) as caught:
        read_yolo(bad)
    assert caught.value.code == "yolo_file" and caught.value.line is None
    assert (
        caught.value.detail == f"is {MAX_LABEL_FILE_BYTES + 1:,} bytes; a YOLO label file is at most 64 MiB."
    )
