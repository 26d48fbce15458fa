"""``ganzoo list [PATTERN]``: the zoo's entries with paper and dataset."""

from ganzoo.registry import get_config, list_models


def add_parser(sub):
    """Register ``ganzoo list`` and its options on the subcommand parsers ``sub``."""
    p = sub.add_parser("list", help="list the zoo's entries", description="List registered entries.")
    p.add_argument("pattern", nargs="?", help="wildcard filter, e.g. 'wgan*'")
    p.add_argument("--names", action="store_true", help="print names only")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``ganzoo list`` with the parsed ``args``; return the exit status (0 on success)."""
    names = list_models(args.pattern)
    if not names:
        print(f"no entry matches '{args.pattern}'")
        return 1
    if args.names:
        print("\n".join(names))
        return 0
    rows = []
    for name in names:
        c = get_config(name)
        data = c.data.name if c.data.source == "tfds" else "folder"
        res = f"{c.data.image_size}x{c.data.image_size}x{c.data.channels}"
        rows.append((name, c.model.cls, c.model.loss, data, res, c.paper.split(",")[0]))
    headers = ("entry", "class", "loss", "dataset", "resolution", "paper")
    widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]
    for row in [headers] + rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
    return 0
