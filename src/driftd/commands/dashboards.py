"""``driftd dashboards export``: write the Grafana dashboards driftd ships to a folder.

Exit codes: 0 success, 2 the folder cannot be written or the files are not installed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from driftd import assets

EXIT_OK = 0
EXIT_INVALID = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dashboards export`` to the ``driftd`` command line."""
    parser = subparsers.add_parser(
        "dashboards", help="export the Grafana dashboards",
        description="The Grafana dashboards of this driftd version (fleet, model, column).",
    )
    actions = parser.add_subparsers(dest="dashboards_command", required=True,
                                    metavar="ACTION")
    export = actions.add_parser(
        "export", help="write the dashboards (JSON) into a folder",
        description="Write the dashboards, byte for byte as shipped, into DIR (created if "
        "missing; files of the same name are replaced). With --provisioning, also "
        "Grafana's provisioning files under DIR/provisioning/: a file provider that reads "
        "/var/lib/grafana/dashboards/driftd, and a Prometheus data source to edit.",
    )
    export.add_argument("directory", type=Path, metavar="DIR")
    export.add_argument("--provisioning", action="store_true",
                        help="also write provisioning/dashboards/ and provisioning/datasources/")
    export.set_defaults(handler=export_command)


def export_command(args: argparse.Namespace) -> int:
    try:
        items = {item.name: item for item in assets.dashboards()}
        if args.provisioning:
            items |= {f"provisioning/{name}": item
                      for name, item in assets.provisioning().items()}
        written = assets.export(items, args.directory)
    except assets.AssetsNotFound as error:
        print(f"driftd dashboards export: {error}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as error:
        print(f"driftd dashboards export: {args.directory}: {error.strerror or error}",
              file=sys.stderr)
        return EXIT_INVALID
    for path in written:
        print(path)
    return EXIT_OK
