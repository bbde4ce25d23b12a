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
from labelport.errors import FieldError, FormatError, ImageError, LabelportError
from labelport.limits import MAX_AREA_RANGES, MAX_IMAGE_PIXELS, MAX_IOU_THRESHOLDS, MAX_MAX_DETS
from labelport.pixels import header_size, open_image

#: What a hostile input may cost a process above the same process on a harmless one.
BUDGET_MIB = 1024
#: the source the measured processes run (another checkout's, to see a test fail before its fix)
SRC = Path(os.environ.get("LABELPORT_MEASURED_SRC") or Path(__file__).resolve().parents[1] / "src")


# -- real processes and their peak memory ----------------------------------------------------------


#: The command under measurement writes its own peak when it exits: its VmHWM (this process's
#: memory only; a child's ``ru_maxrss`` also counts the pytest pages it had between fork and exec,
#: hundreds of MiB late in a session) and the peak of the children it waited for.
MEASURED = """
import atexit, os, resource
from pathlib import Path

def _peak() -> None:
    status = Path("/proc/self/status").read_text().splitlines()
    own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    Path(os.environ["LABELPORT_MEASURED_PEAK"]).write_text(str(max(own, children)))

atexit.register(_peak)
from labelport.cli import main
main()
"""


def run_measured(args: list[str], tmp: Path, env: dict[str, str] | None = None) -> tuple[int, str, int]:
    """(exit status, output, peak RSS in MiB) of ``python -c 'labelport.cli.main()' args``; the peak is
    the wait's ``ru_maxrss`` when the command could not write its own (killed, say)."""
    out = tmp / f"out-{time.monotonic_ns()}.txt"
    peak = out.with_suffix(".peak")
    environ = {**os.environ, "PYTHONPATH": str(SRC), **(env or {}), "LABELPORT_MEASURED_PEAK": str(peak)}
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", MEASURED, *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environ,
            preexec_fn=_no_more_than_8_gib,  # a run before a fix fails instead of filling the machine
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    kib = int(peak.read_text()) if peak.is_file() else usage.ru_maxrss
    return process.returncode, out.read_text(), kib // 1024


def _no_more_than_8_gib() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))


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
    assert str(unreadable.value) == "not.png: is not an image labelport can read."  # no server path
    cut = tmp_path / "cut.png"
    cut.write_bytes(big.read_bytes()[:4000])
    with pytest.raises(ImageError) as damaged:
        open_image(cut, side=320)
    assert str(damaged.value) == "cut.png: cannot be decoded (damaged or cut short)."
    # a JPEG far over the limit is decoded already reduced (DCT scaling), never at its own size
    jpeg = io.BytesIO()
    Image.new("L", (4000, 3000), 90).save(jpeg, "JPEG")
    assert open_image(jpeg, side=500, name="a.jpg").size == (500, 375)
    # no metadata of the original comes along
    assert open_image(commented_jpeg(tmp_path / "c.jpg"), side=32).info == {}


def _project_with_image(client: UserClient, image: Path) -> str:
    project = client.create_project(f"pictures of {image.name}")
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
    # a unit of 100,000 x 100,000 pixels with no image: its canvas is drawn at the render side too
    blank = UserClient.create_with_ssh_private_key(ssh_private_key_path=key_path).create_project("blank")
    blank.add_data([("nowhere", 100_000, 100_000)])
    blank.service.store.close()  # type: ignore[attr-defined]
    out = tmp_path / "n.png"
    status, output, peak = run_measured(
        [*base, "render", blank.project_hash, "--title", "nowhere", "-o", str(out)], tmp_path
    )
    assert status == 0, output
    with Image.open(out) as drawn:
        assert drawn.size == (4096, 4096)
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
            # three at once, none cached: the large decodes wait for each other, never adding up
            os.utime(media / "big.png", (1, 1))
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(3) as pool:
                answers = list(pool.map(lambda labels: thumb("big.png", labels), ["0", "1", "0"]))
            assert [a.status_code for a in answers] == [200, 200, 200]
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


def _one_box() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Ground truth of one box and a prediction of it, a little off."""
    image = {"id": 1, "file_name": "one.jpg", "width": 50, "height": 40}
    box = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, 20, 10], "area": 200, "iscrowd": 0}
    truth = {"images": [image], "annotations": [box], "categories": [{"id": 1, "name": "cat"}]}
    return truth, [{"image_id": 1, "category_id": 1, "bbox": [6, 5, 20, 10], "score": 0.7}]


@pytest.mark.parametrize("sigma", [float("nan"), float("inf"), 0.0, -1.0])
def test_keypoint_sigmas_are_finite_and_positive(sigma: float) -> None:
    from labelport.evaluation.params import Params

    with pytest.raises(LabelportError, match="keypoint_sigmas must be positive numbers, one per keypoint"):
        Params.make("keypoints", keypoint_sigmas=[0.1, sigma])


def test_a_viewer_sending_huge_parameter_lists_gets_one_sentence_and_flat_memory(
    team: Any,
    closing: list[UserClient],
) -> None:
    from evaluation_helpers import project_with

    owner = team.client("bounds-lead")
    viewer_key, viewer_identity, _ = team.user("bounds-viewer")
    viewer = UserClient.create_with_ssh_private_key(ssh_private_key_path=viewer_key, domain=team.server.url)
    closing.extend([owner, viewer])
    gt, results = _one_box()
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

    project = project_with(client, *_one_box())
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
        (
            "names: " + "[" * 100_000 + "]" * 100_000 + "\n",
            GOOD_LINE,
            "yolo_yaml",
            "data.yaml",
            "nests lists or mappings too deeply to read.",
        ),
        (
            DETECT + "#" * (16 << 20) + "\n",
            GOOD_LINE,
            "file_size",
            "data.yaml",
            "is 16,777,243 bytes; a dataset yaml is at most 16 MiB.",
        ),
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
    assert caught.value.code == "file_size" and caught.value.line is None
    assert (
        caught.value.detail == f"is {MAX_LABEL_FILE_BYTES + 1:,} bytes; a YOLO label file is at most 16 MiB."
    )


@pytest.mark.parametrize(
    ("name", "fmt", "what"),
    [("a.xml", "cvat", "a CVAT XML file"), ("a.json", "labelstudio", "a Label Studio export")],
)
def test_a_one_file_format_over_the_cap_is_refused_unread(
    tmp_path: Path, name: str, fmt: str, what: str
) -> None:
    """A CVAT or Label Studio file is read whole into records (about 24 bytes of memory a byte): one
    over the cap is one sentence, before a byte of it is read."""
    from labelport.limits import MAX_DOCUMENT_BYTES

    big = tmp_path / name
    with big.open("wb") as sparse:  # no disk, no time to write
        sparse.truncate(MAX_DOCUMENT_BYTES + 1)
    status, output, peak = run_measured(
        ["convert", str(big), str(tmp_path / "out"), "--from", fmt, "--to", "coco"], tmp_path
    )
    assert status == 1, output
    assert (
        f"{big}: is {MAX_DOCUMENT_BYTES + 1:,} bytes; {what} is at most 32 MiB, as it is read whole" in output
    )
    assert peak < 300


def test_a_cvat_file_under_the_cap_stays_within_the_budget(tmp_path: Path) -> None:
    """What the cap rests on: memory of a CVAT conversion grows about 24 times the file, so a file of
    a quarter of the cap keeps a quarter of the budget."""
    from labelport.limits import MAX_DOCUMENT_BYTES

    boxes = "".join(
        f'<box label="car" xtl="{j}.5" ytl="{j}.25" xbr="{j + 20}.5" ybr="{j + 30}.75" occluded="0"/>\n'
        for j in range(60)
    )
    images = [
        f'<image id="{i}" name="i{i}.jpg" width="640" height="480">\n{boxes}</image>\n' for i in range(1200)
    ]
    xml = f"<annotations><version>1.1</version>\n{''.join(images)}</annotations>\n".encode()
    assert len(xml) < MAX_DOCUMENT_BYTES // 4
    source = tmp_path / "a.xml"
    source.write_bytes(xml)
    status, output, idle = run_measured(
        ["convert", str(tmp_path / "none.xml"), str(tmp_path / "n")], tmp_path
    )
    status, output, peak = run_measured(
        ["convert", str(source), str(tmp_path / "out.json"), "--to", "coco"], tmp_path
    )
    assert status == 0, output
    assert peak - idle < BUDGET_MIB * len(xml) / MAX_DOCUMENT_BYTES * 1.25, (peak, idle, len(xml))


# -- frames past a video's length --------------------------------------------------------------------

BILLION = 1_000_000_000
CVAT_VIDEO = """<annotations><meta><task>{size}<original_size><width>64</width><height>48</height></original_size>
<labels><label><name>car</name></label></labels></task><source>clip</source></meta>
<track id="0" label="car"><box frame="0" outside="0" xtl="1" ytl="1" xbr="5" ybr="5"/>
<box frame="{frame}" outside="0" xtl="1" ytl="1" xbr="5" ybr="5"/></track></annotations>"""


def _coco_video(**image: Any) -> str:
    import json

    record = {"id": 1, "width": 64, "height": 48, "video_title": "clip", **image}
    return json.dumps(
        {
            "images": [record],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}],
            "categories": [{"id": 1, "name": "car"}],
        }
    )


@pytest.mark.parametrize(
    ("name", "text", "where", "sentence"),
    [
        (
            "a.xml",
            CVAT_VIDEO.format(size="<size>10</size>", frame=BILLION),
            "a.xml line 4 /annotations/track[1]/box[2]",
            "frame 1,000,000,000 is beyond the video 'clip', which has 10 frames (meta/task/size).",
        ),
        (
            "a.xml",
            CVAT_VIDEO.format(size="<size>10</size><stop_frame>9</stop_frame>", frame=10),
            "a.xml line 4 /annotations/track[1]/box[2]",
            "frame 10 is beyond the video 'clip', which has 10 frames (meta/task/size).",
        ),
        (
            "a.xml",
            CVAT_VIDEO.format(size="", frame=BILLION),
            "a.xml line 4 /annotations/track[1]/box[2]/@frame",
            "frame 1,000,000,000 is beyond the 1,000,000 frames a video an import creates may have.",
        ),
        (
            "a.json",
            _coco_video(file_name="clip/0.jpg", frame=BILLION),
            "images[0].frame",
            "frame 1,000,000,000 is beyond the 1,000,000 frames a video an import creates may have.",
        ),
        (
            "a.json",
            _coco_video(file_name=f"clip/{BILLION}.jpg"),
            "images[0].file_name",
            "frame 1,000,000,000 is beyond the 1,000,000 frames a video an import creates may have.",
        ),
        (
            "a.json",
            _coco_video(file_name="clip/0.jpg", frame=-1),
            "images[0].frame",
            "frame -1 is beyond the 1,000,000 frames a video an import creates may have.",
        ),
    ],
)
def test_convert_refuses_frames_past_a_video_with_memory_flat(
    tmp_path: Path, name: str, text: str, where: str, sentence: str
) -> None:
    good = tmp_path / name
    good.write_text(
        CVAT_VIDEO.format(size="<size>10</size>", frame=9)
        if name.endswith(".xml")
        else _coco_video(file_name="clip/9.jpg", frame=9)
    )
    status, output, idle = run_measured(["convert", str(good), str(tmp_path / "g"), "--to", "yolo"], tmp_path)
    assert status == 0, output
    bad = tmp_path / "bad" / name
    bad.parent.mkdir()
    bad.write_text(text)
    status, output, peak = run_measured(["convert", str(bad), str(tmp_path / "b"), "--to", "yolo"], tmp_path)
    assert status == 1 and where in output and sentence in output, output
    assert peak - idle < BUDGET_MIB


def test_every_format_refuses_a_frame_past_a_projects_video(tmp_path: Path, client: UserClient) -> None:
    """A file naming frame 10^9 of a 10-frame data unit, in each format that can name a frame."""
    import json

    from labelport.errors import ImportFailed

    project = client.create_project("clips")
    project.add_data([("clip", 64, 48, 10)])
    voc = tmp_path / "voc" / "Annotations"
    voc.mkdir(parents=True)
    (voc / "a.xml").write_text(
        f"<annotation><filename>clip/{BILLION}.jpg</filename><size><width>64</width><height>48</height>"
        "<depth>3</depth></size><object><name>car</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax>"
        "<ymax>5</ymax></bndbox></object></annotation>"
    )
    (tmp_path / "i.xml").write_text(
        f'<annotations><image id="0" name="clip/{BILLION}.jpg" width="64" height="48">'
        '<box label="car" xtl="1" ytl="1" xbr="5" ybr="5"/></image></annotations>'
    )
    (tmp_path / "v.xml").write_text(CVAT_VIDEO.format(size="", frame=BILLION))
    (tmp_path / "c.json").write_text(_coco_video(file_name="clip/0.jpg", frame=BILLION))
    (tmp_path / "n.json").write_text(json.loads(json.dumps(_coco_video(file_name=f"clip/{BILLION}.jpg"))))
    for source, kind in [
        (tmp_path / "voc", "voc"),
        (tmp_path / "i.xml", "cvat"),
        (tmp_path / "v.xml", "cvat"),
        (tmp_path / "c.json", "coco"),
        (tmp_path / "n.json", "coco"),
    ]:
        with pytest.raises(ImportFailed) as caught:
            project.import_labels(str(source), kind, categories="create", create_missing_data_units=True)
        codes = {e.code for e in caught.value.report.errors}
        assert codes == {"frame_range"}, (source, caught.value.report.errors)
        assert "is beyond video 'clip', which has 10 frames" in str(caught.value)
    assert [row.object_count for row in project.list_label_rows_v2()] == [0]  # nothing was stored


# -- archives: each label file capped as it inflates ---------------------------------------------------


def test_a_zip_member_over_the_label_file_cap_is_refused_with_the_server_flat(
    tmp_path: Path,
    team: Any,
    closing: list[UserClient],
) -> None:
    """A 256 MiB label file (zeros: a zip of a few hundred KB) in a YOLO folder sent to the server."""
    client = team.client("bounds-zip")
    closing.append(client)
    project = client.create_project("zipped")
    good = _yolo(tmp_path / "good", DETECT, GOOD_LINE)
    assert (
        project.import_labels(
            str(good), "yolo", create_missing_data_units=True, categories="create"
        ).counts.imported
        == 1
    )
    idle = peak_mib(team.server.process.pid)
    bad = _yolo(tmp_path / "bad", DETECT, GOOD_LINE)
    Image.new("RGB", (40, 30)).save(bad / "images" / "train" / "b.png")
    with (bad / "labels" / "train" / "b.txt").open("wb") as sparse:
        sparse.truncate(256 << 20)
    with pytest.raises(LabelportError) as caught:
        project.import_labels(str(bad), "yolo", create_missing_data_units=True, categories="create")
    assert caught.value.status == 413
    assert str(caught.value) == (
        "the uploaded archive's 'labels/train/b.txt' inflates to 268,435,456 bytes; a label file is at most 16 MiB."
    )
    assert peak_mib(team.server.process.pid) - idle < 128
    assert [row.object_count for row in project.list_label_rows_v2()] == [1]  # nothing else stored


def test_unpack_archive_counts_what_inflates(tmp_path: Path) -> None:
    import zipfile

    from labelport.errors import TooLarge
    from labelport.server.uploads import unpack_archive

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("data.yaml", "names: [cat]\n")
        out.writestr("images/train/a.bin", b"\0" * (1 << 20))
    unpack_archive(archive, tmp_path / "out", limit=2 << 20)
    assert (tmp_path / "out" / "images" / "train" / "a.bin").stat().st_size == 1 << 20
    with pytest.raises(TooLarge, match="unpacks to more than the server's limit of 1,000 bytes"):
        unpack_archive(archive, tmp_path / "small", limit=1000)
    assert not (tmp_path / "small").exists()
    listed = bytearray(archive.read_bytes())  # its end record claims a list of 40 MiB
    end = listed.rfind(b"PK\x05\x06")
    listed[end + 12 : end + 16] = struct.pack("<I", 40 << 20)
    (tmp_path / "listed.zip").write_bytes(bytes(listed))
    with pytest.raises(TooLarge) as caught:
        unpack_archive(tmp_path / "listed.zip", tmp_path / "listed", limit=2 << 20)
    assert str(caught.value) == (
        "the uploaded archive lists its files in 41,943,040 bytes; the server reads at most 32 MiB of such a list."
    )
    with zipfile.ZipFile(archive, "a") as out:
        out.writestr("../evil.txt", "x")
    with pytest.raises(LabelportError, match=r"names a file outside itself: '\.\./evil\.txt'"):
        unpack_archive(archive, tmp_path / "evil", limit=2 << 20)
    assert not (tmp_path / "evil.txt").exists()


# -- masks over huge images, label files over the cap, data units of too many frames --------------

HUGE_CVAT_MASK = """<annotations><image id="0" name="a.jpg" width="100000" height="100000">
<mask label="car" left="0" top="0" width="2" height="1" rle="0,2"/></image></annotations>"""
HUGE_BRUSH = """[{"id": 1, "data": {"image": "a.jpg"}, "annotations": [{"result": [{"type": "brushlabels",
"from_name": "tag", "to_name": "image", "original_width": 100000, "original_height": 100000,
"value": {"format": "rle", "rle": [0, 0, 0, 0], "brushlabels": ["car"]}}]}]}]"""


@pytest.mark.parametrize(
    ("name", "text", "where", "sentence"),
    [
        (
            "a.xml",
            HUGE_CVAT_MASK,
            "a.xml line 2 /annotations/image[1]/mask[1]",
            "a mask is decoded over its 100,000x100,000 image, and labelport decodes masks of at most "
            "178,956,970 pixels.",
        ),
        (
            "a.json",
            HUGE_BRUSH,
            "a.json",
            "a brush mask is decoded over its 100,000x100,000 image, and labelport decodes masks of at "
            "most 178,956,970 pixels.",
        ),
    ],
)
def test_masks_over_huge_images_are_refused_with_memory_flat(
    tmp_path: Path, name: str, text: str, where: str, sentence: str
) -> None:
    good = tmp_path / "good.xml"
    good.write_text(HUGE_CVAT_MASK.replace("100000", "10"))
    status, output, idle = run_measured(
        ["convert", str(good), str(tmp_path / "g.json"), "--to", "coco"], tmp_path
    )
    assert status == 0, output
    bad = tmp_path / name
    bad.write_text(text)
    status, output, peak = run_measured(
        ["convert", str(bad), str(tmp_path / "b.json"), "--to", "coco"], tmp_path
    )
    assert status == 1 and output.startswith(f"Error: {bad.parent}/{where}") and sentence in output, output
    assert peak - idle < BUDGET_MIB


def test_a_voc_annotation_file_over_the_cap_is_refused_unread(tmp_path: Path) -> None:
    from labelport.formats.voc.read import read_voc

    annotations = tmp_path / "voc" / "Annotations"
    annotations.mkdir(parents=True)
    with (annotations / "a.xml").open("wb") as sparse:
        sparse.truncate((16 << 20) + 1)
    with pytest.raises(FormatError) as caught:
        read_voc(tmp_path / "voc")
    assert caught.value.code == "file_size" and caught.value.file == str(annotations / "a.xml")
    assert caught.value.detail == "is 16,777,217 bytes; a VOC annotation file is at most 16 MiB."


def test_a_data_unit_has_at_most_a_million_frames(client: UserClient) -> None:
    from labelport.data import DataUnit
    from labelport.errors import DataError

    assert DataUnit.video("long", width=64, height=48, frames=1_000_000).frames == 1_000_000
    with pytest.raises(DataError) as caught:
        client.create_project("long").add_data([("clip", 64, 48, 1_000_000_000)])
    assert str(caught.value) == (
        "data unit 'clip': 1,000,000,000 frames is over the most a data unit may have, 1,000,000."
    )


def test_a_mask_over_a_huge_image_is_not_decoded_on_export(tmp_path: Path) -> None:
    """A COCO RLE over a 100,000 x 100,000 image imports (it is compact), but is never decoded."""
    import json

    runs = [0, 100, 4_000_000_000, 0, 4_000_000_000, 0, 1_999_999_900]
    coco = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100_000, "height": 100_000}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": {"size": [100_000, 100_000], "counts": runs},
                "bbox": [0, 0, 1, 100],
                "area": 100,
                "iscrowd": 1,
            }
        ],
        "categories": [{"id": 1, "name": "lake"}],
    }
    good = tmp_path / "good.json"
    good.write_text(json.dumps({**coco, "annotations": []}))
    status, output, idle = run_measured(["convert", str(good), str(tmp_path / "g"), "--to", "yolo"], tmp_path)
    assert status == 0, output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(coco))
    for target in ("yolo", "cvat", "voc", "labelstudio"):
        dest = tmp_path / f"b-{target}" if target in ("yolo", "voc") else tmp_path / f"b.{target}.json"
        status, output, peak = run_measured(["convert", str(bad), str(dest), "--to", target], tmp_path)
        assert status == 1, (target, output)
        assert (
            "a mask over a 100,000x100,000 image is not decoded: labelport decodes masks of at most" in output
        )
        assert peak - idle < BUDGET_MIB


def test_a_frame_number_of_thousands_of_digits_is_no_frame(tmp_path: Path, client: UserClient) -> None:
    """Python refuses to make an int of more than 4,300 digits (a ValueError, once a traceback)."""
    from labelport.errors import ImportFailed

    digits = "9" * 5000
    project = client.create_project("digits")
    project.add_data([("clip", 64, 48, 10)])
    for name in (f"clip/{digits}.jpg", f"clip_{digits}.jpg", f"clip/frame_{digits}"):
        source = tmp_path / "a.json"
        source.write_text(_coco_video(file_name=name).replace('"video_title": "clip", ', ""))
        with pytest.raises(ImportFailed) as caught:
            project.import_labels(str(source), "coco", categories="create")
        assert {e.code for e in caught.value.report.errors} == {"image_unmatched"}, name
    created = tmp_path / "v.json"
    created.write_text(_coco_video(file_name=f"clip/{digits}.jpg"))
    report = client.create_project("made").import_labels(
        str(created), "coco", categories="create", create_missing_data_units=True
    )
    assert report.counts.imported == 1 and report.counts.data_units_created == 1


@pytest.mark.parametrize(
    "attributes",
    [
        {"image": 'id="²"'},
        {"image": f'id="{"9" * 5000}"'},
        {"box": f'z_order="{"9" * 5000}"'},
        {"box": 'occluded="²"'},
        {"box": 'group_id="²"'},
        {"box": f'group_id="{"9" * 5000}"'},
    ],
)
def test_cvat_numbers_that_int_refuses_are_kept_as_text(tmp_path: Path, attributes: dict[str, str]) -> None:
    """``str.isdigit`` takes ``²`` and 5,000 digits, which ``int`` refuses (once a traceback)."""
    from labelport.formats.cvat.read import read_cvat

    image, box = attributes.get("image", 'id="0"'), attributes.get("box", "")
    (tmp_path / "a.xml").write_text(
        f'<annotations><image {image} name="a.jpg" width="64" height="48">'
        f'<box label="car" xtl="1" ytl="1" xbr="5" ybr="5" {box}/></image></annotations>'
    )
    data = read_cvat(tmp_path / "a.xml")
    assert data.images[0]["id"] == 0 and len(data.annotations) == 1
