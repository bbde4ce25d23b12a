"""ours-import-http-pg: labelport's COCO import over HTTP into PostgreSQL, through a local labelport server.

The harness (:mod:`bench.http_pg`) has already started PostgreSQL, made a fresh database, added an admin
user for ``--key`` and started ``labelport serve`` on it. This process is the client:
``UserClient.create_with_ssh_private_key(ssh_private_key_path=key, domain=server)``,
``create_project("bench")``, ``project.import_coco(path, categories="create", create_missing_data_units=True)``;
it fails unless the report says every annotation was imported.
"""

from __future__ import annotations

from bench.jobs._common import Phases, emit, parser
from bench.jobs.ours_import import timed_import


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--server", required=True, help="the labelport server's URL")
    ap.add_argument("--key", required=True, help="the private key of a user the server knows")
    args = ap.parse_args()
    phases = Phases()
    with phases("import_module"):
        import labelport
    with phases("connect"):
        client = labelport.UserClient.create_with_ssh_private_key(
            ssh_private_key_path=args.key, domain=args.server
        )
    project, _report, counts, work = timed_import(client, phases, args)
    emit(work, phases, annotations=counts.imported, images=counts.images, project_hash=project.project_hash)


if __name__ == "__main__":
    main()
