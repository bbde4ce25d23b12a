"""Which local files the viewer serves: only those inside its media roots, however the path is written."""

from __future__ import annotations

from pathlib import Path

from labelport.viewer.media import MediaRoots


def test_only_files_inside_the_roots_are_served(tmp_path: Path) -> None:
    root, outside = tmp_path / "media", tmp_path / "secret"
    (root / "a").mkdir(parents=True)
    outside.mkdir()
    (root / "a" / "cat.png").write_bytes(b"x")
    (outside / "key.png").write_bytes(b"x")
    (root / "link.png").symlink_to(outside / "key.png")
    (root / "linked-dir").symlink_to(outside)
    roots = MediaRoots([root])
    assert roots.locate(str(root / "a" / "cat.png")).path == (root / "a" / "cat.png").resolve()
    assert roots.locate(f"file://{root}/a/../a/cat.png").path is not None
    for sneaky in (
        f"{root}/../secret/key.png",
        f"{root}/a/../../secret/key.png",
        f"file://{root}/../secret/key.png",
        str(root / "link.png"),  # a symbolic link out of the root
        str(root / "linked-dir" / "key.png"),
        str(outside / "key.png"),
        f"{root}-evil/cat.png",  # a sibling whose name starts like the root
    ):
        found = roots.locate(sneaky)
        assert (
            found.path is None and found.reason is not None and "outside the media roots" in found.reason
        ), sneaky
    assert (
        roots.locate(str(root / "a" / "dog.png")).reason
        == f"{(root / 'a' / 'dog.png').resolve()} does not exist"
    )
    assert MediaRoots([]).locate(str(root / "a" / "cat.png")).short == "not served: no --media-root"
    assert roots.locate("s3://bucket/cat.png").short == "s3:// not served"
    assert roots.locate("https://example.com/cat.png").url == "https://example.com/cat.png"
