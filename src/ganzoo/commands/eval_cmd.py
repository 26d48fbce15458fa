"""``ganzoo eval RUN_OR_NAME [--metrics fid,kid,is,pr,fcd,cs,coverage,label_accuracy] [-n N] [--split train]``.

Also ``ganzoo eval real:mnist:test`` (or ``ganzoo eval mnist --real``): real images against
the reference split, the floor a generator can reach. For a super-resolution model (SRGAN)
it reports PSNR/SSIM (Y channel, the scale shaved off each border) of the model and of
bicubic upscaling on the HR images of the entry's held-out split (div2k: validation) or folder;
for digits (srgan_mnist) on the test split, with the MNIST classifier's accuracy on SR, bicubic
and HR images (ganzoo.evaluation.sr_digits). ganzoo.zoo_eval joins the evaluation functions
to the entry's config and data.
"""

from pathlib import Path

from ganzoo.commands.common import add_raw_option


def add_parser(sub):
    """Register ``ganzoo eval`` and its options on the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "eval", help="measure sample quality (FID, KID, IS, precision/recall, FCD, coverage, label accuracy)",
        description="Evaluate a run folder, a .keras file, a zoo entry (its bundled pretrained weights, or "
                    "--weights) or real data (real:DATASET[:SPLIT]) against the cached statistics of the dataset's "
                    "reference split. Prints a table that names the weights scored; writes eval.json into a run "
                    "folder (or -o PATH).")
    p.add_argument("source", help="run folder, .keras file, entry name (its bundled weights), or real:DATASET[:SPLIT] "
                                  "(e.g. real:mnist:test)")
    p.add_argument("--metrics", help="comma-separated: fid,kid,is,pr (Inception), fcd,cs,coverage,label_accuracy "
                                     "(domain classifier). Default: fcd,coverage(,label_accuracy) for grayscale "
                                     "data, fid,kid,is for RGB")
    p.add_argument("-n", type=int, help="images to evaluate (default 50000 with Inception metrics, else 10000; "
                                        "real data: at most the split)")
    p.add_argument("--split", help="reference split of the dataset (default train; for a super-resolution "
                                    "model: the split of HR test images, default validation)")
    p.add_argument("--ref-samples", type=int, help="use only the first N images of the reference split (default all)")
    p.add_argument("--real", action="store_true", help="SOURCE names a dataset or entry: evaluate its real "
                                                       "--real-split images (same as real:SOURCE:SPLIT)")
    p.add_argument("--real-split", default="test", help="split evaluated with --real (default test)")
    p.add_argument("--seed", type=int, default=0, help="latent seed (default 0): same seed, same numbers")
    p.add_argument("--labels", help="classes to generate for conditional models: 3, 0-9 or 1,5,7 (default balanced)")
    p.add_argument("--truncation", type=float, help="truncation psi in [0, 2]")
    p.add_argument("--noise", choices=("random", "const", "none"),
                   help="StyleGAN's per-pixel noise (default random, drawn from --seed, as the official metrics)")
    p.add_argument("--weights", help="for an entry name: 'pretrained' (default), a weights file, or 'untrained' to "
                                     "score the random initial weights (a baseline)")
    add_raw_option(p)
    p.add_argument("--config", help="entry or YAML describing the data, for models without a ganzoo config")
    p.add_argument("--inception", choices=("fid2015", "keras"), default="fid2015",
                   help="network of fid/kid/is/pr: fid2015 (default), the 2015 Inception of every published FID "
                        "(pytorch-fid's port; weights from --fid-weights, $GANZOO_FID_WEIGHTS, the cache or a "
                        "download, else a clear error), or keras, Keras' ImageNet InceptionV3 (comparable between "
                        "ganzoo runs only)")
    p.add_argument("--fid-weights", help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth (converted once into the "
                                         "cache) or its converted .weights.h5; see `ganzoo fid-weights`")
    p.add_argument("--fid-protocol", choices=("pytorch-fid", "studiogan", "tf", "clean"), default="pytorch-fid",
                   help="resize, normalisation and IS convention of the fid2015 network: pytorch-fid (default; "
                        "bilinear, x/127.5-1), studiogan (its tables: PIL bilinear, IS with the fc bias over 1 split), "
                        "tf (the 2015 graph as TTUR/NVlabs feed it: TF1 resize_bilinear, (x-128)/128) or clean "
                        "(clean-fid: PIL bicubic)")
    p.add_argument("--is-splits", type=int, help="splits of the Inception score (default: the protocol's, 10; "
                                                 "studiogan: 1)")
    p.add_argument("--inception-weights", help="with --inception keras: local Keras Inception-V3 ImageNet weights "
                                               "(.h5); default: $GANZOO_INCEPTION_WEIGHTS or ~/.keras/models/")
    p.add_argument("--batch-size", type=int, default=100, help="images per extractor batch (default 100)")
    p.add_argument("--data-dir", help="TFDS data folder (default $TFDS_DATA_DIR)")
    p.add_argument("--cache-dir", help="cache of reference statistics and classifiers (default $GANZOO_CACHE_DIR "
                                       "or ~/.cache/ganzoo)")
    p.add_argument("-o", "--output", help="JSON file to write (default: eval.json in a run folder)")
    p.set_defaults(func=run)


def _default_output(source: str):
    path = Path(source).expanduser()
    if path.is_dir():
        return path / "eval.json"
    if path.is_file():
        return path.parent / ("eval.json" if path.name == "model.keras" else f"{path.stem}.eval.json")
    return None


#: HR images ``ganzoo eval`` compares on by default for a super-resolution model.
SR_DEFAULT_IMAGES = 10
#: The metrics of a super-resolution model (each against bicubic upscaling).
SR_METRICS = frozenset({"psnr", "ssim"})


def run(args) -> int:
    """Run ``ganzoo eval`` with the parsed ``args``; return the exit status (0 on success)."""
    from ganzoo.commands.common import choose_generator, describe_weights, parse_labels  # noqa: PLC0415
    from ganzoo.evaluation.evaluate import format_table, parse_metrics, write_json  # noqa: PLC0415
    from ganzoo.zoo_eval import evaluate  # noqa: PLC0415

    if args.inception != "keras" and args.inception_weights:
        raise ValueError("--inception-weights are Keras' InceptionV3's: add --inception keras (the standard FID "
                         "network takes --fid-weights)")
    if args.inception == "keras" and args.fid_weights:
        raise ValueError("--fid-weights are the fid2015 network's; drop --inception keras to use them")
    if args.n is not None and args.n < 2:
        raise ValueError(f"-n must be at least 2 images, got {args.n}")
    asked = {m.strip() for m in (args.metrics or "").split(",") if m.strip()}
    # Fail on a typo before loading anything (psnr,ssim are a super-resolution model's metrics,
    # checked once the model is known).
    metrics = None if asked and asked <= SR_METRICS else parse_metrics(args.metrics)
    provenance = None
    if not args.source.startswith("real:") and not args.real:
        target, provenance = _load_scored_model(args.source, args.weights)
        if hasattr(target, "upscale"):
            return _run_super_resolution(target, args, provenance)
    if metrics is None:
        metrics = parse_metrics(args.metrics)  # psnr/ssim asked of a model that does not upscale
    config = None
    if args.config:
        from ganzoo.registry import get_config  # noqa: PLC0415

        config = get_config(args.config)
    source = args.source
    output = args.output
    if args.real and not source.startswith("real:"):
        source = f"real:{source}:{args.real_split}"
    if source.startswith("real:"):
        if args.noise:
            raise ValueError("--noise applies to generated images (StyleGAN models), not to real data")
        target = source
    else:
        output = output or _default_output(source)
    labels = parse_labels(args.labels)
    if labels is not None and not getattr(target, "conditional", False):
        raise ValueError("--labels applies to conditional models only")
    scored = {}
    if provenance is not None:
        choice = choose_generator(target, provenance, args.raw)
        scored = {"description": f"{describe_weights(provenance)}, {choice} (seed {args.seed})",
                  "use_ema": choice.ema}
    elif args.raw:
        raise ValueError("--raw applies to a generator, not to real data")
    result = evaluate(target, metrics, args.n, config=config, **scored, ref_split=args.split or "train", ref_samples=args.ref_samples,
                      seed=args.seed, labels=labels, truncation=args.truncation, noise=args.noise,
                      batch_size=args.batch_size,
                      data_dir=args.data_dir, cache=args.cache_dir,
                      inception_network=args.inception, fid_weights=args.fid_weights,
                      fid_protocol=args.fid_protocol, splits=args.is_splits,
                      inception_weights=args.inception_weights or "imagenet", verbose=True)
    result["protocol"]["command"] = f"ganzoo eval {args.source}"
    if provenance is not None:
        result["protocol"].update(weights=provenance["weights"], weights_source=provenance["source"],
                                  step=provenance.get("step"), weights_sha256=provenance.get("weights_sha256"),
                                  generator=choice.description)
    print(format_table(result))
    if output:
        print(f"wrote {write_json(result, output)}")
    return 0




def _load_scored_model(source: str, weights):
    """``(model, provenance)`` of what ``ganzoo eval SOURCE`` scores: a run folder / .keras file,
    or an entry's bundled weights (``--weights``: a file, or ``untrained`` on purpose). An entry
    without bundled weights is refused: its random initial weights would be scored silently."""
    from ganzoo.commands.common import check_entry_fits, is_path_source, load_source  # noqa: PLC0415

    if not is_path_source(source) and weights is None:
        from ganzoo.weights import pretrained_path  # noqa: PLC0415

        check_entry_fits("eval", source)  # unknown names fail here with the closest entries
        if not pretrained_path(source).is_file():
            raise FileNotFoundError(
                f"no trained weights are bundled for '{source}', so there is nothing trained to score. Train it "
                f"(`ganzoo train {source} --out runs/{source}`) and run `ganzoo eval runs/{source}`, or pass a run "
                f"folder / .keras file, or --weights FILE (--weights untrained scores the random initial weights)")
        weights = "pretrained"
    return load_source(source, weights, command="eval")


def _run_super_resolution(model, args, provenance) -> int:
    """PSNR/SSIM of ``model.upscale`` and of bicubic on the entry's held-out HR images."""
    import time  # noqa: PLC0415

    from ganzoo.config import Config  # noqa: PLC0415
    from ganzoo.evaluation.evaluate import write_json  # noqa: PLC0415
    from ganzoo.evaluation.sr_metrics import super_resolution_scores  # noqa: PLC0415
    from ganzoo.zoo_eval import hr_evaluation_images  # noqa: PLC0415

    if args.metrics and {m.strip() for m in args.metrics.split(",") if m.strip()} - SR_METRICS:
        raise ValueError(f"a super-resolution model is evaluated with psnr,ssim (against bicubic), "
                         f"not --metrics {args.metrics}")
    if args.labels or args.truncation is not None or args.real or args.noise or args.raw:
        raise ValueError("--labels, --truncation, --noise, --raw and --real do not apply to a super-resolution model")
    from ganzoo.commands.common import describe_weights  # noqa: PLC0415

    if args.config:
        from ganzoo.registry import get_config  # noqa: PLC0415

        config = get_config(args.config)
    else:
        config = Config.from_dict(model.zoo_config)
    if config.data.source == "tfds" and config.data.channels == 1:  # digits (srgan_mnist)
        return _run_digit_super_resolution(model, config, args)
    split = args.split or "validation"
    start = time.time()
    images = hr_evaluation_images(config, split=split, limit=args.n or SR_DEFAULT_IMAGES, data_dir=args.data_dir)
    scores = super_resolution_scores(model, images)
    where = config.data.path if config.data.source == "folder" else f"TFDS {config.data.name} {split}"
    print(f"{describe_weights(provenance)} x{int(model.scale)}: {scores['images']} HR images of {where}; PSNR/SSIM "
          f"on luma, {int(model.scale)}px border shaved")
    print(f"{'':10}{'PSNR dB':>10}{'SSIM':>8}")
    print(f"{'model':10}{scores['psnr']:10.2f}{scores['ssim']:8.4f}")
    print(f"{'bicubic':10}{scores['bicubic_psnr']:10.2f}{scores['bicubic_ssim']:8.4f}")
    result = {"metrics": scores, "protocol": {"command": f"ganzoo eval {args.source}", "images": where,
                                               "y_channel": True, "border": int(model.scale),
                                               "weights": provenance["weights"], "weights_source": provenance["source"],
                                               "step": provenance.get("step"),
                                               "seconds": round(time.time() - start, 1)}}
    output = args.output or _default_output(args.source)
    if output:
        print(f"wrote {write_json(result, output)}")
    return 0


def _run_digit_super_resolution(model, config, args) -> int:
    """Digits: PSNR/SSIM against bicubic and the MNIST classifier's accuracy on SR, bicubic and
    HR images of the labelled test split (``ganzoo.evaluation.sr_digits``)."""
    from ganzoo.evaluation.evaluate import write_json  # noqa: PLC0415
    from ganzoo.zoo_eval import evaluate_digit_super_resolution  # noqa: PLC0415

    result = evaluate_digit_super_resolution(model, config, split=args.split or "test", limit=args.n,
                                             data_dir=args.data_dir)
    m = result["metrics"]
    print(f"{config.name} x{int(model.scale)}: {m['images']} images of TFDS {config.data.name} "
          f"{args.split or 'test'}; PSNR/SSIM on the whole image; digits read by the MNIST classifier")
    print(f"{'':10}{'PSNR dB':>10}{'SSIM':>8}{'accuracy':>10}")
    print(f"{'model':10}{m['psnr']:10.2f}{m['ssim']:8.4f}{m['accuracy']:10.4f}")
    print(f"{'bicubic':10}{m['bicubic_psnr']:10.2f}{m['bicubic_ssim']:8.4f}{m['bicubic_accuracy']:10.4f}")
    print(f"{'HR':10}{'':>10}{'':>8}{m['hr_accuracy']:10.4f}")
    result["protocol"] = {"command": f"ganzoo eval {args.source}", "description": result["protocol"]}
    output = args.output or _default_output(args.source)
    if output:
        print(f"wrote {write_json(result, output)}")
    return 0

