"""``ganzoo fid-weights [FILE]``: find, check and convert the standard FID Inception weights.

Without FILE: says where ganzoo found the weights (converting a ``.pth`` found in the cache or
PyTorch hub's cache), or exactly which file to put where. With FILE (pytorch-fid's
``pt_inception-2015-12-05-6726825d.pth``, or a converted ``.weights.h5``): checks its SHA-256 and
converts it into the cache, so that ``ganzoo eval`` finds it offline from then on, then loads
it and checks the digest of its weights. No PyTorch needed.
"""


def add_parser(sub):
    """Register ``ganzoo fid-weights``."""
    p = sub.add_parser(
        "fid-weights", help="find, check and convert the FID Inception weights (pytorch-fid's .pth) for ganzoo eval",
        description="Check and convert pytorch-fid's pt_inception-2015-12-05-6726825d.pth into ganzoo's cache "
                    "(no PyTorch needed), or report where the weights are found.")
    p.add_argument("file", nargs="?", help="the .pth (or a converted .weights.h5); default: look in "
                                           "$GANZOO_FID_WEIGHTS, the cache, PyTorch hub's cache")
    p.add_argument("--cache-dir", help="cache folder (default $GANZOO_CACHE_DIR or ~/.cache/ganzoo)")
    p.add_argument("--download", action="store_true", help="download the .pth when it is nowhere here "
                                                          "(needs internet)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Resolve (and convert) the weights; print the file, its source SHA-256 and the weights digest."""
    from ganzoo.evaluation import fid_weights  # noqa: PLC0415

    from ganzoo.evaluation.fid_extractor import FIDInceptionExtractor  # noqa: PLC0415

    path = fid_weights.resolve_fid_weights(args.file, cache=args.cache_dir, download=True if args.download else None)
    FIDInceptionExtractor(weights=path, check=False)  # loads it: a damaged file fails here, not in ganzoo eval
    provenance = fid_weights.read_provenance(path)
    source = provenance["source_sha256"] or "unknown"
    standard = fid_weights.is_standard(source)
    print(f"FID Inception weights: {path}")
    print(f"  converted from: {fid_weights.PTH_NAME if standard else 'another file'} (SHA-256 {source})")
    print(f"  weights digest: {provenance['digest'] + ' (verified)' if provenance['digest'] else 'not recorded'}")
    print("  `ganzoo eval ... --metrics fid,kid,is` uses them" + ("" if standard else " only if you pass --fid-weights"))
    return 0
