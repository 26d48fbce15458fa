"""``ganzoo info FILE.png``: the provenance ganzoo wrote into an image or GIF."""

import json


def add_parser(sub):
    """Register ``ganzoo info`` and its options on the subcommand parsers ``sub``."""
    p = sub.add_parser("info", help="show the provenance stored in a PNG/GIF ganzoo wrote")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``ganzoo info`` with the parsed ``args``; return the exit status (0 on success)."""
    from ganzoo.images import read_metadata  # noqa: PLC0415

    meta = read_metadata(args.file)
    if not meta:
        print(f"{args.file}: no ganzoo metadata (not written by ganzoo, or stripped)")
        return 1
    if args.json:
        print(json.dumps(meta, indent=2))
    else:
        width = max(len(k) for k in meta)
        for key, value in meta.items():
            print(f"{key.ljust(width)}  {value}")
    return 0
